"""The loop's named points: a hook sees the start, every step, every checkpoint and the stop, and
can stop the fit; the field declares what the schedule calls on it."""

from __future__ import annotations

from dvr_cli.fields import PaperField
from dvr_cli.fit import fit
from dvr_cli.fit.hooks import LoopHook
from sphere_scene import tiny_config


class Recorder(LoopHook):
    def __init__(self, stop_at: int | None = None):
        self.calls, self.stop_at = [], stop_at

    def on_start(self, job):
        self.calls.append(("start", job.iteration))

    def after_step(self, job):
        self.calls.append(("step", job.iteration))
        return job.iteration == self.stop_at

    def on_checkpoint(self, job):
        self.calls.append(("checkpoint", job.iteration))

    def on_stop(self, job, interrupted):
        self.calls.append(("stop", job.iteration, interrupted))


def test_a_hook_sees_each_named_point_and_can_stop_the_fit(sphere_scene, tmp_path):
    every = Recorder()
    fit(sphere_scene, tiny_config(iters=3, checkpoint_every_s=0), tmp_path / "a", hooks=[every])
    # a checkpoint after every step (checkpoint_every_s 0, before the caller's hooks), one at the end
    assert every.calls == [
        ("start", 0),
        ("checkpoint", 1),
        ("step", 1),
        ("checkpoint", 2),
        ("step", 2),
        ("checkpoint", 3),
        ("step", 3),
        ("checkpoint", 3),
        ("stop", 3, False),
    ]
    stopper = Recorder(stop_at=2)
    result = fit(sphere_scene, tiny_config(iters=5), tmp_path / "b", hooks=[stopper, lambda job: False])
    assert result.iterations == 2 and not result.interrupted
    assert stopper.calls == [("start", 0), ("step", 1), ("step", 2), ("checkpoint", 2), ("stop", 2, False)]


def test_a_field_of_one_level_has_no_coarse_to_fine_to_follow():
    field = PaperField(8, 1)
    assert field.n_levels == 1
    field.set_active_levels(1)  # the schedule calls it on every field
