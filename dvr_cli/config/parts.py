"""The parts of a fit's configuration, each declared with its checks: the field (``FieldConfig``,
which builds it), the renderer (``RenderConfig``), the loss weights (``LossWeights``), the plan
(``Schedule``) and the ray sampler (``SamplerConfig``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import Field, GridField, PaperField, fused
from ..fields.background import BACKGROUNDS
from ..fields.grid import KERNELS
from .settings import Settings, boolean, int_at_least, int_list, integer, number, number_in, one_of, optional, setting

FIELDS = ("grid", "paper")
MASK_PROBES = ("peak", "random")
RENDERERS = ("unified", "surface")
AT_LEAST_1 = "an integer >= 1"
NON_NEGATIVE = "a number >= 0"


@dataclass
class FieldConfig(Settings):
    """The field backbone: 'grid' (multi-resolution dense feature grid + tiny MLP) or 'paper' (DVR's MLP)."""

    field: str = setting("grid", check=one_of(*FIELDS), want=f"one of {', '.join(FIELDS)}")
    grid_resolutions: list[int] = setting(
        factory=lambda: [16, 32, 64, 128],
        check=lambda v: int_list(2)(v) and bool(v),
        want="a non-empty list of integers >= 2",
    )
    grid_features: int = setting(4, check=int_at_least(1), want=AT_LEAST_1)
    # finer levels stored in hash tables of 2^hash_table_log2 rows (Instant-NGP); [] for none
    hash_resolutions: list[int] = setting(factory=lambda: [256], check=int_list(2), want="a list of integers >= 2")
    hash_features: int = setting(2, check=int_at_least(1), want=AT_LEAST_1)
    hash_table_log2: int = setting(20, check=lambda v: integer(v) and 8 <= v <= 26, want="an integer in [8, 26]")
    mlp_hidden: int = setting(64, check=int_at_least(1), want=AT_LEAST_1)
    mlp_hidden_layers: int = setting(1, check=int_at_least(1), want=AT_LEAST_1)
    # feature grids start as N(0, std^2)
    grid_init_std: float = setting(1e-4, check=number_in(0), want=NON_NEGATIVE)
    paper_hidden: int = setting(512, check=int_at_least(1), want=AT_LEAST_1)
    paper_blocks: int = setting(5, check=int_at_least(1), want=AT_LEAST_1)
    # occupancy starts as a sphere of this radius (unit-cube units)
    init_radius: float = setting(0.5, check=number_in(0, 1, open_low=True), want="a number in (0, 1]")
    # slope of that sphere prior's logit, per unit-cube unit
    prior_sharpness: float = setting(10.0, check=number_in(0, open_low=True), want="a number > 0")
    # output heads start scaled by this (the prior dominates at first)
    head_scale: float = setting(0.01, check=number_in(0), want=NON_NEGATIVE)
    # view-dependent colour: spherical harmonics of the view direction up to this degree (0: none,
    # as in DVR); exported meshes keep the colour averaged over directions
    sh_degree: int = setting(2, check=lambda v: integer(v) and v in (0, 1, 2), want="0, 1 or 2")
    # a shading term shared by all points: an MLP of this width over (surface normal, view direction,
    # their dot product), added to the colour logit (0: none, as in DVR; see fields/grid.py)
    shading_hidden: int = setting(32, check=int_at_least(0), want="an integer >= 0")
    # the central-difference step of that term's normals (unit-frame units, about half a finest grid cell)
    shading_fd_step: float = setting(0.008, check=number_in(0, open_low=True), want="a number > 0")
    # the grid encoding's kernel: 'native' (fields/fused.py: all levels of a point in one pass, on the
    # CPU; the torch path on a GPU) or 'torch' (grid_sample per level: the reference)
    kernel: str = setting("native", check=one_of(*KERNELS), want=f"one of {', '.join(KERNELS)}")
    # with the native kernel, Adam updates only the grid entries a step touched (fields/lazy_adam.py)
    sparse_adam: bool = setting(True, check=boolean, want="true or false")

    def prepare(self) -> None:
        """Compile (first use on a machine) or load the native kernel now, so that a fit's time budget,
        which counts its set-up, does not pay for it."""
        if self.field == "grid" and self.kernel == "native":
            fused.warm_up()

    def setup(self) -> Field:
        """The field these settings describe, freshly initialised (torch's global RNG)."""
        if self.field == "grid":
            return GridField(
                self.grid_resolutions,
                self.grid_features,
                self.mlp_hidden,
                hidden_layers=self.mlp_hidden_layers,
                init_radius=self.init_radius,
                prior_sharpness=self.prior_sharpness,
                grid_init_std=self.grid_init_std,
                head_scale=self.head_scale,
                sh_degree=self.sh_degree,
                hash_resolutions=self.hash_resolutions,
                hash_features=self.hash_features,
                hash_table_log2=self.hash_table_log2,
                shading_hidden=self.shading_hidden,
                shading_fd_step=self.shading_fd_step,
                kernel=self.kernel,
            )
        return PaperField(
            self.paper_hidden,
            self.paper_blocks,
            init_radius=self.init_radius,
            prior_sharpness=self.prior_sharpness,
            head_scale=self.head_scale,
            sh_degree=self.sh_degree,
        )


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
    render_steps: int = setting(256, check=int_at_least(2), want="an integer >= 2")
    # marching stops evaluating a ray once it has hit (the same hits and depths for about half the
    # evaluations; False: every sample of every ray, as runs before 2026-12-05 did)
    stop_at_hit: bool = setting(True, check=boolean, want="true or false")
    # torch.compile the field's per-point work (fields/compiled.py); falls back to eager with one
    # warning line where it cannot compile. Its warm-up is counted in a time-planned budget
    compile: bool = setting(False, check=boolean, want="true or false")
    # empty-space skipping: an occupancy bit-grid of this resolution, refreshed every occ_grid_every steps
    occ_grid_res: int = setting(64, check=lambda v: integer(v) and 2 <= v <= 512, want="an integer in [2, 512]")
    occ_grid_every: int = setting(200, check=int_at_least(1), want=AT_LEAST_1)
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


def _steps(value) -> bool:
    if not isinstance(value, list) or not value:
        return False
    if not all(isinstance(e, (list, tuple)) and len(e) == 2 and number(e[0]) and integer(e[1]) for e in value):
        return False
    starts = [e[0] for e in value]
    return starts[0] == 0 and starts == sorted(starts) and starts[-1] < 1 and all(e[1] >= 2 for e in value)


WEIGHT = dict(check=number_in(0), want=NON_NEGATIVE)


@dataclass
class LossWeights(Settings):
    """The weight of each loss term of model/dvr.py's ``get_loss_dict`` (``w_<term>``), and the
    settings of the terms. A new term: its weight here, its maths in model/losses.py."""

    w_rgb: float = setting(1.0, **WEIGHT)
    w_freespace: float = setting(1.0, **WEIGHT)
    w_occupancy: float = setting(1.0, **WEIGHT)
    w_normal: float = setting(0.1, **WEIGHT)
    w_depth: float = setting(0.0, **WEIGHT)
    normal_eps: float = setting(0.01, **WEIGHT)
    # free space seen past sparse points: the fit triangulates the training photos (fit/sightlines.py)
    # and pushes sparse_per_step probes a step on camera -> point segments outside (0: off)
    w_sparse: float = setting(0.0, **WEIGHT)
    sparse_per_step: int = setting(512, check=int_at_least(1), want=AT_LEAST_1)
    # normals for the smoothness loss: central differences with this step (unit-frame units, about
    # half a finest grid cell), or 0 for the analytic gradient (double backward: exact, ~3x slower)
    normal_fd_step: float = setting(0.008, **WEIGHT)

    def weight(self, term: str) -> float:
        """The weight of the loss term named ``term``."""
        return getattr(self, f"w_{term}")


@dataclass
class Schedule(Settings):
    """The plan: ``iters`` iterations (repeatable) or, when iters is None, ``minutes`` of wall clock
    (DEFAULT_MINUTES when both are None). The learning rate, coarse-to-fine levels and marching
    steps follow the fraction of the plan done; with both set, the iteration plan is also stopped
    after ``minutes``."""

    iters: int | None = setting(None, check=optional(int_at_least(1)), want="an integer >= 1 (or null: plan in time)")
    minutes: float | None = setting(None, check=optional(number_in(0, open_low=True)), want="a number > 0 (or null)")
    lr: float = setting(1e-2, check=number_in(0, open_low=True), want="a number > 0")
    # exponential decay to lr * ratio at the end of the plan
    lr_final_ratio: float = setting(0.1, check=number_in(0, 1, open_low=True), want="a number in (0, 1]")
    # marching steps from a fraction of the plan on: [[fraction, steps], ...], first fraction 0
    steps_schedule: list[list[float]] = setting(
        factory=lambda: [[0, 32], [0.33, 64], [0.67, 128]],
        check=_steps,
        want="a list of [fraction, steps] from fraction 0, increasing fractions < 1, steps >= 2",
    )

    def n_steps(self, fraction: float) -> int:
        """Marching steps at ``fraction`` of the plan, from ``steps_schedule``."""
        n = self.steps_schedule[0][1]
        for start, steps in self.steps_schedule:
            if fraction >= start:
                n = steps
        return int(n)

    def learning_rate(self, fraction: float) -> float:
        """``lr`` decayed exponentially to ``lr * lr_final_ratio`` at the end of the plan."""
        return self.lr * self.lr_final_ratio**fraction


@dataclass
class SamplerConfig(Settings):
    """Which rays a step draws (fit/sampler.py) and where a ray that missed probes the mask loss."""

    rays_per_step: int = setting(2048, check=int_at_least(1), want=AT_LEAST_1)
    views_per_step: int = setting(4, check=int_at_least(1), want=AT_LEAST_1)
    # share of the other rays drawn inside the masks
    mask_ray_fraction: float = setting(0.5, check=number_in(0, 1), want="a number in [0, 1]")
    # share of rays drawn within 2 px of a mask's outline (0 in DVR)
    edge_ray_fraction: float = setting(0.25, check=number_in(0, 1), want="a number in [0, 1]")
    # where a ray that found no surface gets its mask-loss probe: 'peak' (its most occupied marching
    # sample, which grows / carves the shape where it is closest to the silhouette) or 'random' (DVR)
    mask_probe: str = setting("peak", check=one_of(*MASK_PROBES), want=f"one of {', '.join(MASK_PROBES)}")
