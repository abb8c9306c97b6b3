"""Fast CPU backbone: multi-resolution feature grids (dense, then hashed) + a tiny MLP with two heads.

Dense level l is a learnable volume V_l of shape (1, C, R_l, R_l, R_l) spanning [-1, 1]^3 (voxel
corners on the cube's faces, align_corners=True); the finer hashed levels store their R^3 corners'
C_h features in a (T, C_h) table (hashgrid.py). A point's encoding is
    e(p) = [p, m_0 * trilerp(V_0, p), ..., m_{L-1} * trilerp(V_{L-1}, p)]   (3 + sum of channels,)
where m_l in {0, 1} masks the levels not yet active (coarse-to-fine training). Then
    h = relu(W_k ... relu(W_1 e(p))),   [o, c, a_1..a_K] = W_head h + b_head   (o scalar, c, a_k in R^3)
    logit(p) = o + sphere_prior_logit(p, init_radius, prior_sharpness),
    rgb(p, w) = sigmoid(c + s(n(p), w) + sum_k a_k Y_k(w))   (Y_k: real SH of degree 1..sh_degree, sh.py),
so with sh_degree 0 and no shading the colour is view-independent (DVR). A mesh coloured from the
field takes rgb averaged over its training cameras' views (dvr_cli.mesh.color.field_colors).

s is a shading term shared by every point (``shading_hidden`` > 0): a small MLP of the surface's
outward normal n(p) (central differences of the logit, detached: colour does not move the shape),
the view direction w and n . w, as IDR / NeuS condition colour on the normal. Lighting that
moves with the camera (DTU's lights ride on the robot arm with it) is a function of the normal
and the view the same at every point, which per-point SH coefficients must each learn from the
few views that see the point. Its last layer starts at 0 (no shading at step 0).

The encoding runs on one of two kernels (``kernel``): 'native' (fused.py: every level of a point in
one pass, CPU points only; elsewhere, and under ``fused.reference_kernel()``, the torch path) or
'torch' (the reference: ``grid_sample`` per dense level, hashgrid.py per hashed level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..settings import int_at_least, int_list, integer, number_in, one_of, setting
from . import fused
from .base import AT_LEAST_1, Field, FieldConfig, check_points, sphere_prior_logit
from .hashgrid import hash_encode
from .normals import fd_normals, fd_points
from .sh import sh_directional_count, sh_rgb

KERNELS = ("native", "torch")


class GridField(Field):
    """Dense multi-resolution feature grids (trilinear, one grid_sample per level), optional hashed
    finer levels (``hash_resolutions``), + tiny MLP.

    Grid features start at N(0, grid_init_std^2), so at step 0 the logit is the sphere prior up to a
    small perturbation (the output head's weights are scaled by ``head_scale``, its bias is 0).
    """

    per_point = "_hidden"

    def __init__(
        self,
        resolutions=(16, 32, 64, 128),
        features: int = 4,
        hidden: int = 64,
        hidden_layers: int = 1,
        init_radius: float = 0.5,
        prior_sharpness: float = 10.0,
        grid_init_std: float = 1e-4,
        head_scale: float = 0.01,
        sh_degree: int = 0,
        hash_resolutions=(),
        hash_features: int = 2,
        hash_table_log2: int = 20,
        shading_hidden: int = 0,
        shading_fd_step: float = 0.008,
        kernel: str = "torch",
    ):
        super().__init__()
        if not resolutions or min(resolutions) < 2:
            raise ValueError(f"grid resolutions must be >= 2, got {list(resolutions)}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        self.kernel = kernel
        if kernel == "native":
            fused.warm_up()
        self.resolutions = [int(r) for r in resolutions]
        self.channels = int(features)
        self.init_radius = float(init_radius)
        self.prior_sharpness = float(prior_sharpness)
        self.sh_degree = int(sh_degree)
        self.n_sh = sh_directional_count(self.sh_degree)
        # the native kernel reads a corner's channels side by side (channels_last_3d: one cache line, not C)
        layout = torch.channels_last_3d if kernel == "native" else torch.contiguous_format
        self.grids = nn.ParameterList(
            nn.Parameter((torch.randn(1, self.channels, r, r, r) * grid_init_std).contiguous(memory_format=layout))
            for r in self.resolutions
        )
        self.hash_resolutions = [int(r) for r in hash_resolutions]
        self.hash_channels = int(hash_features)
        self.tables = nn.ParameterList(
            nn.Parameter(torch.randn(1 << int(hash_table_log2), self.hash_channels) * grid_init_std)
            for _ in self.hash_resolutions
        )
        self.active_levels = self.n_levels
        layers, width = [], 3 + self.channels * len(self.resolutions) + self.hash_channels * len(self.tables)
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.mlp = nn.Sequential(*layers)
        # rows [logit, r, g, b, then 3 per directional SH term]; marching reads the logit row alone
        self.head = nn.Linear(width, 4 + 3 * self.n_sh)
        with torch.no_grad():
            self.head.weight.mul_(head_scale)
            self.head.bias.zero_()
        self.shading_fd_step = float(shading_fd_step)
        self.shading = None
        if shading_hidden:
            self.shading = nn.Sequential(nn.Linear(7, shading_hidden), nn.ReLU(), nn.Linear(shading_hidden, 3))
            with torch.no_grad():  # starts as no shading at all
                self.shading[2].weight.zero_()
                self.shading[2].bias.zero_()

    @property
    def n_levels(self) -> int:
        return len(self.resolutions) + len(self.hash_resolutions)

    def set_active_levels(self, n: int) -> None:
        """Use only the ``n`` coarsest levels; finer ones contribute 0 features (and get no gradient)."""
        if not 1 <= n <= self.n_levels:
            raise ValueError(f"active levels must be in [1, {self.n_levels}], got {n}")
        self.active_levels = int(n)

    def lazy_parameters(self) -> list[nn.Parameter]:
        """The grids and tables on the native kernel (a step touches few of their entries: lazy_adam.py)."""
        return [*self.grids, *self.tables] if self.kernel == "native" else []

    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) in [-1, 1]^3 -> (3 + L*C + L_h*C_h, N) encoding e(p) (zeros for inactive levels).

        Feature-major (channels first) because that is grid_sample's output layout: the levels
        concatenate without a transpose copy, and the first Linear takes the transposed view for free
        (the native kernel writes point-major rows and returns their transposed view).
        """
        check_points(points)
        if self.kernel == "native" and fused.runs_on(points):
            return fused.fused_encode(
                points, list(self.grids), list(self.tables), self.hash_resolutions, self.active_levels
            ).t()
        n = points.shape[0]
        # grid_sample reads the last coordinate axis as (x, y, z) -> (W, H, D); the volume is
        # indexed [z, y, x], so V[0, :, k, j, i] is the feature at corner (x_i, y_j, z_k).
        coords = points.view(1, n, 1, 1, 3)
        feats = [points.t()]
        for level, grid in enumerate(self.grids):
            if level < self.active_levels:
                sampled = F.grid_sample(grid, coords, mode="bilinear", padding_mode="border", align_corners=True)
                feats.append(sampled.view(self.channels, n))
            else:
                feats.append(points.new_zeros(self.channels, n))
        for level, (res, table) in enumerate(zip(self.hash_resolutions, self.tables), start=len(self.grids)):
            if level < self.active_levels:
                feats.append(hash_encode(points, table, res))
            else:
                feats.append(points.new_zeros(self.hash_channels, n))
        return torch.cat(feats, dim=0)

    def _hidden(self, points: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.encode(points).t())

    def _logits(self, points: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        out = F.linear(hidden, self.head.weight[:1], self.head.bias[:1]).squeeze(1)  # the logit row alone
        return out + sphere_prior_logit(points, self.init_radius, self.prior_sharpness)

    def shading_normals(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) -> (N, 3) outward unit normals the shading term reads: central differences
        of the occupancy logit with step ``shading_fd_step`` (the smoothness loss's), detached."""
        with torch.no_grad():
            stencil = fd_points(points.detach(), self.shading_fd_step)
            return fd_normals(self.occupancy_logits(stencil), self.shading_fd_step)

    def _color(
        self, hidden: torch.Tensor, dirs: torch.Tensor | None, points: torch.Tensor, normals: torch.Tensor | None = None
    ) -> torch.Tensor:
        rows = slice(1, None) if dirs is not None else slice(1, 4)  # the SH rows only when they are used
        raw = F.linear(hidden, self.head.weight[rows], self.head.bias[rows])
        if self.shading is not None and dirs is not None:
            n = normals.detach() if normals is not None else self.shading_normals(points)
            shade = self.shading(torch.cat([n, dirs, (n * dirs).sum(1, keepdim=True)], dim=1))
            raw = torch.cat([raw[:, :3] + shade, raw[:, 3:]], dim=1)
        return sh_rgb(raw, dirs, self.sh_degree)

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        return self._logits(points, self._hidden(points))

    def texture(
        self, points: torch.Tensor, dirs: torch.Tensor | None = None, normals: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._color(self._hidden(points), dirs, points, normals)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self._hidden(points)
        return self._logits(points, hidden), self._color(hidden, None, points)


@dataclass
class GridFieldConfig(FieldConfig):
    """The grid field's settings (flat aliases ``grid_resolutions``, ``grid_features``, ``grid_init_std``)."""

    kind: ClassVar[str] = "grid"
    _target: ClassVar[type] = GridField
    FLAT: ClassVar[dict[str, str]] = {
        "resolutions": "grid_resolutions",
        "features": "grid_features",
        "init_std": "grid_init_std",
    }

    resolutions: list[int] = setting(
        factory=lambda: [16, 32, 64, 128],
        check=lambda v: int_list(2)(v) and bool(v),
        want="a non-empty list of integers >= 2",
    )
    features: int = setting(4, check=int_at_least(1), want=AT_LEAST_1)
    # finer levels stored in hash tables of 2^hash_table_log2 rows (Instant-NGP); [] for none
    hash_resolutions: list[int] = setting(factory=lambda: [256], check=int_list(2), want="a list of integers >= 2")
    hash_features: int = setting(2, check=int_at_least(1), want=AT_LEAST_1)
    hash_table_log2: int = setting(20, check=lambda v: integer(v) and 8 <= v <= 26, want="an integer in [8, 26]")
    mlp_hidden: int = setting(64, check=int_at_least(1), want=AT_LEAST_1)
    mlp_hidden_layers: int = setting(1, check=int_at_least(1), want=AT_LEAST_1)
    # feature grids start as N(0, std^2)
    init_std: float = setting(1e-4, check=number_in(0), want="a number >= 0")
    # a shading term shared by all points: an MLP of this width over (surface normal, view direction,
    # their dot product), added to the colour logit (0: none, as in DVR)
    shading_hidden: int = setting(32, check=int_at_least(0), want="an integer >= 0")
    # the central-difference step of that term's normals (unit-frame units, about half a finest grid cell)
    shading_fd_step: float = setting(0.008, check=number_in(0, open_low=True), want="a number > 0")
    # the encoding's kernel: 'native' (fused.py: all levels of a point in one pass, on the CPU; the
    # torch path on a GPU) or 'torch' (grid_sample per level: the reference)
    kernel: str = setting("native", check=one_of(*KERNELS), want=f"one of {', '.join(KERNELS)}")

    def prepare(self) -> None:
        """Compile (first use on a machine) or load the native kernel now, so that a fit's time budget,
        which counts its set-up, does not pay for it."""
        if self.kernel == "native":
            fused.warm_up()

    def setup(self) -> GridField:
        return self._target(
            self.resolutions,
            self.features,
            self.mlp_hidden,
            hidden_layers=self.mlp_hidden_layers,
            init_radius=self.init_radius,
            prior_sharpness=self.prior_sharpness,
            grid_init_std=self.init_std,
            head_scale=self.head_scale,
            sh_degree=self.sh_degree,
            hash_resolutions=self.hash_resolutions,
            hash_features=self.hash_features,
            hash_table_log2=self.hash_table_log2,
            shading_hidden=self.shading_hidden,
            shading_fd_step=self.shading_fd_step,
            kernel=self.kernel,
        )
