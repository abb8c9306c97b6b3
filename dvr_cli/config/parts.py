"""The parts of a fit's configuration that build nothing themselves, each declared with its checks:
the renderer (``RenderConfig``), the loss terms (``LossConfig``) and the plan (``Schedule``). The
parts that build something sit next to it: the field (fields/grid.py, fields/paper.py), the
optimizer (fields/lazy_adam.py), the occupancy grid (render/occgrid.py), the ray sampler
(fit/sampler.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..fields.background import BACKGROUNDS
from ..settings import Settings, boolean, int_at_least, integer, number, number_in, one_of, optional, setting

MASK_PROBES = ("peak", "random")
RENDERERS = ("unified", "surface")
AT_LEAST_1 = "an integer >= 1"
NON_NEGATIVE = "a number >= 0"


@dataclass
class RenderConfig(Settings):
    """How rays are rendered: the renderer, the surface level, marching and the volume's samples."""

    # 'unified': UNISURF's volume rendering of the occupancy (render/volume.py) until
    # ``volume_until`` of the plan, then DVR's surface rendering; 'surface': DVR's alone (the paper)
    renderer: str = setting("unified", check=one_of(*RENDERERS), want=f"one of {', '.join(RENDERERS)}")
    volume_until: float = setting(0.85, check=number_in(0, 1), want="a number in [0, 1]")
    # samples per ray of the volume renderer: stratified over the ray's occupied span (free space),
    # and in the interval [d - delta, d + delta] around the marched surface d, with
    # delta = max(interval_max exp(-interval_decay * fraction), interval_min) (unit-cube units)
    free_samples: int = setting(4, check=int_at_least(1), want=AT_LEAST_1)
    interval_samples: int = setting(8, check=int_at_least(1), want=AT_LEAST_1)
    interval_max: float = setting(1.0, check=number_in(0, open_low=True), want="a number > 0")
    interval_min: float = setting(0.05, check=number, want="a number in (0, interval_max]")
    interval_decay: float = setting(5.0, check=number_in(0), want=NON_NEGATIVE)
    tau: float = setting(0.5, check=number_in(0, 1, open_low=True, open_high=True), want="a number in (0, 1)")
    n_secant: int = setting(8, check=int_at_least(0), want="an integer >= 0")
    render_samples: int = setting(256, check=int_at_least(2), want="an integer >= 2")
    # marching stops evaluating a ray once it has hit (the same hits and depths for about half the
    # evaluations; False: every sample of every ray, as runs before 2026-12-05 did)
    stop_at_hit: bool = setting(True, check=boolean, want="true or false")
    # torch.compile the field's per-point work (fields/compiled.py); falls back to eager with one
    # warning line where it cannot compile. Its warm-up is counted in a time-planned budget
    compile: bool = setting(False, check=boolean, want="true or false")
    # what lies past the cube in a fit without masks (fields/background.py): 'field' (NeRF++'s
    # inverted sphere, background_samples per ray over a background_grid^3 grid), 'envmap' (a colour
    # per direction and an exposure per photo) or 'colour' (one per photo, runs saved before the others)
    background: str = setting("envmap", check=one_of(*BACKGROUNDS), want=f"one of {', '.join(BACKGROUNDS)}")
    background_samples: int = setting(16, check=int_at_least(1), want=AT_LEAST_1)
    background_grid: int = setting(64, check=lambda v: integer(v) and 2 <= v <= 256, want="an integer in [2, 256]")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [("interval_min", 0 < self.interval_min <= self.interval_max, "a number in (0, interval_max]")]

    def volume_rendered(self, fraction: float) -> bool:
        """The step at ``fraction`` of the plan renders the occupancy as a volume (else as a surface)."""
        return self.renderer == "unified" and fraction < self.volume_until


def _samples(value) -> bool:
    if not isinstance(value, list) or not value:
        return False
    if not all(isinstance(e, (list, tuple)) and len(e) == 2 and number(e[0]) and integer(e[1]) for e in value):
        return False
    starts = [e[0] for e in value]
    return starts[0] == 0 and starts == sorted(starts) and starts[-1] < 1 and all(e[1] >= 2 for e in value)


WEIGHT = dict(check=number_in(0), want=NON_NEGATIVE)


@dataclass
class LossConfig(Settings):
    """The loss terms of model/dvr_model.py's ``get_loss_dict``: the weight of each (``w_<term>``) and the
    terms' other settings (``normal_jitter``, ``normal_fd_step``, ``mask_probe``). A new term: its
    weight here, its maths in model/losses.py."""

    w_rgb: float = setting(1.0, **WEIGHT)
    w_freespace: float = setting(1.0, **WEIGHT)
    w_occupancy: float = setting(1.0, **WEIGHT)
    w_normal: float = setting(0.1, **WEIGHT)
    w_depth: float = setting(0.0, **WEIGHT)
    # the smoothness loss compares the normal at each surface point with the normal at that point
    # moved by N(0, normal_jitter^2) per axis (unit-frame units)
    normal_jitter: float = setting(0.01, check=number_in(0), want=NON_NEGATIVE)
    # free space seen past sparse points: the fit triangulates the training photos (fit/sightlines.py)
    # and pushes the sampler's sparse_per_step probes on camera -> point segments outside (0: off)
    w_sparse: float = setting(0.0, **WEIGHT)
    # normals for the smoothness loss: central differences with this step (unit-frame units, about
    # half a finest grid cell), or 0 for the analytic gradient (double backward: exact, ~3x slower)
    normal_fd_step: float = setting(0.008, **WEIGHT)
    # where a ray that found no surface gets its mask-loss probe: 'peak' (its most occupied marching
    # sample, which grows / carves the shape where it is closest to the silhouette) or 'random' (DVR)
    mask_probe: str = setting("peak", check=one_of(*MASK_PROBES), want=f"one of {', '.join(MASK_PROBES)}")

    def weight(self, term: str) -> float:
        """The weight of the loss term named ``term``."""
        return getattr(self, f"w_{term}")


@dataclass
class Schedule(Settings):
    """The plan: ``iters`` iterations (repeatable) or, when iters is None, ``minutes`` of wall clock
    (DEFAULT_MINUTES when both are None). The learning rate (``OptimizerConfig``), coarse-to-fine levels
    and marching samples follow the fraction of the plan done; with both set, the iteration plan is also stopped
    after ``minutes``."""

    iters: int | None = setting(None, check=optional(int_at_least(1)), want="an integer >= 1 (or null: plan in time)")
    minutes: float | None = setting(None, check=optional(number_in(0, open_low=True)), want="a number > 0 (or null)")
    # marching samples from a fraction of the plan on: [[fraction, samples], ...], first fraction 0
    samples_schedule: list[list[float]] = setting(
        factory=lambda: [[0, 32], [0.33, 64], [0.67, 128]],
        check=_samples,
        want="a list of [fraction, samples] from fraction 0, increasing fractions < 1, samples >= 2",
    )

    # a fit without masks fits this last share of its plan with masks derived from the object's
    # separation from its table, floor or wall (fit/object_phase.py; 0: never)
    object_share: float = setting(0.3, check=number_in(0, 1), want="a number in [0, 1]")

    def n_samples(self, fraction: float) -> int:
        """Marching samples at ``fraction`` of the plan, from ``samples_schedule``."""
        n = self.samples_schedule[0][1]
        for start, samples in self.samples_schedule:
            if fraction >= start:
                n = samples
        return int(n)
