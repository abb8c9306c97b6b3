"""Hashed level: the hash is the Instant-NGP one, and the lookup is exact trilinear interpolation."""

import pytest
import torch

from dvr_cli.fields.hashgrid import hash_corners, hash_encode


def test_hash_is_xor_of_prime_products_modulo_table_size():
    c = torch.tensor([[3, 5, 7], [0, 0, 0], [255, 1, 2]])
    expected = [(3 ^ (5 * 2654435761) ^ (7 * 805459861)) % 1024, 0, (255 ^ 2654435761 ^ (2 * 805459861)) % 1024]
    assert hash_corners(c, 1024).tolist() == expected
    with pytest.raises(ValueError, match="power of two"):
        hash_corners(c, 1000)


def test_lookup_reproduces_a_linear_function_stored_on_the_lattice():
    res, size = 9, 1 << 16
    axis = torch.arange(res)
    corners = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    rows = hash_corners(corners, size)
    assert rows.unique().numel() == res**3  # no collision on this lattice, so the test is exact
    x = corners.double() / (res - 1) * 2 - 1  # the corners' positions in [-1, 1]^3
    table = torch.zeros(size, 2, dtype=torch.float64)
    table[rows, 0] = 0.3 * x[:, 0] - 0.7 * x[:, 1] + 0.2 * x[:, 2] + 0.1
    table[rows, 1] = x[:, 2]
    table.requires_grad_(True)
    p = torch.rand(500, 3, dtype=torch.float64) * 2 - 1
    p[:4] = torch.tensor([[-1.0, -1, -1], [1, 1, 1], [1, -1, 0.5], [0.25, 0.25, 0.25]], dtype=torch.float64)
    out = hash_encode(p, table, res)
    assert out.shape == (2, 500)
    # trilinear interpolation reproduces any function linear in x, y, z exactly, faces included
    assert torch.allclose(out[0], 0.3 * p[:, 0] - 0.7 * p[:, 1] + 0.2 * p[:, 2] + 0.1, atol=1e-3)
    assert torch.allclose(out[1], p[:, 2], atol=1e-3)
    out[0].sum().backward()  # trilinear weights of each point sum to 1: the table's gradient sums to N
    assert table.grad[:, 0].sum().item() == pytest.approx(500.0) and table.grad[:, 1].eq(0).all()
