"""Data-parallel fitting over 2 gloo processes: a step on R/2 rays each equals one process's step on
all R; a 2-process fit keeps its ranks identical and resumes bit for bit; a single process is unchanged.

The 2 ranks are started once for the module (`two_ranks`); each test checks what they wrote.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from torch import multiprocessing as mp

from dvr_cli.config import FitConfig
from dvr_cli.errors import DvrError
from dvr_cli.fit import distributed, fit, resume
from dvr_cli.fit.sampler import RaySampler
from dvr_cli.model import DVRModel, RayBatch
from sphere_scene import tiny_config

RAYS = 256
STOP_AT = 4  # the interrupted 2-process fit stops here, then resumes to the end


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _threads() -> int:
    """Threads of this process, Python's and native ones (gloo's)."""
    return len(os.listdir("/proc/self/task"))


def _rows(batch: RayBatch, start: int, stop: int) -> RayBatch:
    return RayBatch(
        **{
            f.name: None if getattr(batch, f.name) is None else getattr(batch, f.name)[start:stop]
            for f in fields(RayBatch)
        }
    )


def _adam_step(field, batch: RayBatch, cfg: FitConfig, share: float) -> dict:
    """One step of the loop's objective on ``batch``: gradients (after the all-reduce) and parameters."""
    optimizer = torch.optim.Adam(field.parameters(), lr=cfg.optimizer.lr, fused=True)
    model = DVRModel(cfg, field)
    out = model.get_outputs(batch, 1.0, torch.Generator(), cfg.schedule.n_samples(0.0))
    loss = model.total_loss(model.get_loss_dict(out, batch))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(field.parameters(), share)
    grads = {name: p.grad.clone() for name, p in field.named_parameters() if p.grad is not None}
    optimizer.step()
    return {"grads": grads, "params": {k: v.clone() for k, v in field.state_dict().items()}}


def _rank(rank: int, world: int, port: int, root: str) -> None:
    """Everything a rank does: one step on its half of the rays, a straight fit, a stopped + resumed fit."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    threads_before = _threads()
    assert distributed.init_from_env("cpu")
    data = torch.load(f"{root}/data.pt", weights_only=False)

    step_cfg = FitConfig.from_json(data["step_cfg"])
    torch.manual_seed(0 if rank == 0 else 1234)  # rank 1 starts elsewhere: broadcast_module gives it rank 0's field
    field = step_cfg.field.setup()
    distributed.broadcast_module(field)
    share = distributed.ray_share(RAYS)
    batch = _rows(data["batch"], rank * share, (rank + 1) * share)
    torch.save(_adam_step(field, batch, step_cfg, share / RAYS), f"{root}/step.{rank}")

    cfg, end = FitConfig.from_json(data["fit_cfg"]), {}

    def keep_the_end(job) -> bool:
        end.update(field=job.model.field.state_dict(), bits=job.model.occ_grid.bits.clone())
        return False

    fit(data["scene"], cfg, f"{root}/straight", hooks=[keep_the_end])
    torch.save(end, f"{root}/end.{rank}")
    stopped = fit(data["scene"], cfg, f"{root}/resumed", hooks=[lambda job: job.iteration == STOP_AT])
    assert stopped.iterations == STOP_AT
    resume(f"{root}/resumed", data["scene"])
    distributed.leave()
    Path(f"{root}/threads.{rank}").write_text(json.dumps([threads_before, _threads()]))


@pytest.fixture(scope="module")
def two_ranks(sphere_scene, tmp_path_factory):
    """The folder where 2 ranks wrote their step, their fits' ends and run folders; the union batch and config."""
    root = tmp_path_factory.mktemp("two_ranks")
    # no normal-smoothness term in the step: its jitter comes from each rank's own stream, which a
    # single process drawing for the union cannot reproduce
    step_cfg = tiny_config(rays_per_step=RAYS, w_normal=0.0)
    scene = sphere_scene
    sampler = RaySampler(
        scene.views,
        scene.unit_cameras(),
        scene.normalization.scale,
        "cpu",
        torch.Generator().manual_seed(3),
        config=step_cfg.sampler,
    )
    batch = sampler.sample()
    fit_cfg = tiny_config(iters=10, occ_grid_every=3)  # grid refreshes at 3, 6, 9
    torch.save(
        {"step_cfg": step_cfg.to_json(), "batch": batch, "fit_cfg": fit_cfg.to_json(), "scene": scene}, root / "data.pt"
    )
    mp.spawn(_rank, args=(2, _free_port(), str(root)), nprocs=2)
    return {"root": Path(root), "batch": batch, "step_cfg": step_cfg}


@pytest.mark.slow
def test_a_rank_that_leaves_the_group_keeps_none_of_its_threads(two_ranks):
    # a group whose threads outlive the interpreter aborts the rank at exit (SIGABRT), now and then
    for r in range(2):
        before, after = json.loads((two_ranks["root"] / f"threads.{r}").read_text())
        assert after == before, r


@pytest.mark.slow
def test_two_ranks_of_half_the_rays_step_like_one_process_on_all(two_ranks):
    cfg = two_ranks["step_cfg"]
    torch.manual_seed(0)
    field = cfg.field.setup()
    initial = {k: v.clone() for k, v in field.state_dict().items()}
    one = _adam_step(field, two_ranks["batch"], cfg, 1.0)
    ranks = [torch.load(two_ranks["root"] / f"step.{r}", weights_only=True) for r in range(2)]
    assert one["grads"].keys() == ranks[0]["grads"].keys() == ranks[1]["grads"].keys()
    for name, grad in one["grads"].items():
        # the all-reduced gradient is the union's (losses are sums over rays / R: the shares weight them)
        assert torch.allclose(ranks[0]["grads"][name], grad, rtol=1e-4, atol=1e-9), name
        assert torch.equal(ranks[0]["grads"][name], ranks[1]["grads"][name]), name
    for name, value in one["params"].items():
        assert torch.allclose(ranks[0]["params"][name], value, rtol=0, atol=1e-6), name
        assert torch.equal(ranks[0]["params"][name], ranks[1]["params"][name]), name
    assert max(float((one["params"][k] - v).abs().max()) for k, v in initial.items()) > 1e-4  # the step moved it


@pytest.mark.slow
def test_a_two_process_fit_keeps_its_ranks_alike_and_resumes_bit_for_bit(two_ranks):
    root = two_ranks["root"]
    # the ranks end alike: same field, same occupancy grid (refreshed from the same field and global stream)
    ends = [torch.load(root / f"end.{rank}", weights_only=True) for rank in range(2)]
    assert torch.equal(ends[0]["bits"], ends[1]["bits"])
    assert all(torch.equal(value, ends[1]["field"][name]) for name, value in ends[0]["field"].items())
    straight, resumed = (
        torch.load(root / name / "checkpoints" / "latest.pt", weights_only=True) for name in ("straight", "resumed")
    )
    assert straight["iteration"] == resumed["iteration"] == 10
    for name, value in straight["field"].items():
        assert torch.equal(value, resumed["field"][name]), name
    # one checkpoint for both ranks, holding each rank's own ray stream
    streams = straight["rng"]["ranks"]
    assert len(streams) == 2 and not torch.equal(streams[0], streams[1])
    assert torch.equal(streams[0], straight["rng"]["sampler"])


def test_a_single_process_is_left_as_it_is():
    assert not distributed.active() and distributed.is_writer() and distributed.world_size() == 1
    assert distributed.ray_share(2049) == 2049 and distributed.sampler_seed(7) == 7
    assert distributed.from_rank0(1.5, True) == (1.5, True)
    assert distributed.rank0_only(lambda a, b: a + b, 2, 3) == 5
    rng = {"sampler": torch.ones(3, dtype=torch.uint8)}
    assert distributed.gather_rng(rng) is rng and distributed.own_rng(rng) is rng


def test_a_checkpoint_of_two_processes_resumes_only_with_two(monkeypatch):
    rng = {"sampler": torch.zeros(2, dtype=torch.uint8), "ranks": [torch.zeros(2), torch.ones(2)]}
    with pytest.raises(
        DvrError,
        match=r"run: the checkpoint was written by a fit over 2 process\(es\): resume it "
        r"with --nproc 2",
    ):
        distributed.own_rng(rng, "run")
    # as rank 1 of 2 (torchrun's variables, before the group is joined): its own stream
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert torch.equal(distributed.own_rng(rng)["sampler"], torch.ones(2))
    assert distributed.ray_share(5) == 2 and distributed.sampler_seed(7) == 8 and not distributed.is_writer()
    monkeypatch.setenv("RANK", "0")
    assert distributed.ray_share(5) == 3


def test_a_cuda_rank_joins_nccl_on_its_local_gpu(monkeypatch):
    """The CUDA branch of init_from_env, on a CPU machine: the calls it makes, recorded."""
    importlib.import_module("torch._dynamo")  # its atexit hooks go to the real atexit, not to `calls`
    calls = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setattr(distributed, "resolve_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.setdefault("gpu", index))
    monkeypatch.setattr(
        distributed.dist, "init_process_group", lambda backend, timeout: calls.setdefault("backend", backend)
    )
    monkeypatch.setattr(distributed.atexit, "register", lambda fn: calls.setdefault("atexit", []).append(fn))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.setdefault("threads", n))
    assert distributed.init_from_env("cuda")
    assert calls["gpu"] == 1 and calls["backend"] == "nccl" and distributed.leave in calls["atexit"]
    assert calls["threads"] >= 1


@pytest.mark.slow
def test_dvr_fit_nproc_2_runs_end_to_end_and_exports(tiny_example, tmp_path, capfd):
    from dvr_cli.cli import main

    run = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                str(tiny_example),
                "--nproc",
                "2",
                "--iters",
                "6",
                "--holdout",
                "3",
                "--device",
                "cpu",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    printed = capfd.readouterr().out
    assert printed.count("fitting 6 views") == 1  # rank 0 alone prints
    assert "masked_psnr" in printed and (run / "eval.json").is_file()  # and evaluates the held-out view
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["iteration"] == 6 and len(state["rng"]["ranks"]) == 2
    assert [json.loads(line)["iter"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [6]
    assert main(["export", str(run), "--resolution", "32"]) == 0
    assert (run / "export" / "mesh.ply").stat().st_size > 1000
