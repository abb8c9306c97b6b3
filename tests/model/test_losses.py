import math

import pytest
import torch

from dvr_cli.model import losses


def test_rgb_loss_sums_channels_of_selected_rays_over_all_rays():
    pred = torch.tensor([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.2, 0.2, 0.2], [0.0, 0.0, 0.0]])
    target = torch.tensor([[0.4, 0.7, 0.5], [0.0, 0.0, 0.0], [0.2, 0.2, 0.2], [1.0, 1.0, 1.0]])
    select = torch.tensor([True, False, True, False])
    # ray 0: 0.1 + 0.2 + 0 = 0.3, ray 2: 0; divided by N = 4
    assert losses.rgb_loss(pred, target, select).item() == pytest.approx(0.3 / 4)


def test_freespace_and_occupancy_are_bce_towards_empty_and_full():
    logits = torch.tensor([0.0, 2.0, -1.0])
    select = torch.tensor([True, True, False])
    free = (math.log(2) + math.log(1 + math.exp(2.0))) / 3  # -log(1 - sigmoid(x)) = log(1 + e^x)
    occ = (math.log(2) + math.log(1 + math.exp(-2.0))) / 3  # -log(sigmoid(x)) = log(1 + e^-x)
    assert losses.freespace_loss(logits, select).item() == pytest.approx(free, rel=1e-6)
    assert losses.occupancy_loss(logits, select).item() == pytest.approx(occ, rel=1e-6)


def test_bce_gradient_pushes_logits_the_right_way():
    logits = torch.zeros(2, requires_grad=True)
    losses.freespace_loss(logits, torch.tensor([True, False])).backward()
    assert logits.grad.tolist() == pytest.approx([0.25, 0.0])  # sigmoid(0) / N: descent lowers the logit
    logits.grad = None
    losses.occupancy_loss(logits, torch.tensor([True, False])).backward()
    assert logits.grad.tolist() == pytest.approx([-0.25, 0.0])


def test_empty_selection_gives_exact_zero_not_nan():
    logits = torch.randn(5)
    none = torch.zeros(5, dtype=torch.bool)
    assert losses.freespace_loss(logits, none).item() == 0.0
    assert losses.rgb_loss(torch.rand(5, 3), torch.rand(5, 3), none).item() == 0.0


def test_normal_loss_is_mean_distance_over_all_rays():
    n1 = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    n2 = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert losses.normal_loss(n1, n2, n_rays=4).item() == pytest.approx(math.sqrt(2) / 4)


def test_depth_loss_on_selected_rays():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    target = torch.tensor([1.5, 0.0, 2.0, 4.0])
    select = target > 0
    assert losses.depth_loss(pred, target, select).item() == pytest.approx((0.5 + 1.0 + 0.0) / 4)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        losses.freespace_loss(torch.zeros(3, 1), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError):
        losses.rgb_loss(torch.zeros(3, 3), torch.zeros(3, 3), torch.ones(3))
