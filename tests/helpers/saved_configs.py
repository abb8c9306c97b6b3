"""config.json files as older dvr saved them: what the one migration (config/legacy.py) must read.
Kept apart from the tests so that renaming a setting never rewrites what an old run holds."""

#: config.json as dvr saved it before 2026-12-05 (flat; `paper` preset, iters=7, holdout=3, w_sparse=0.5,
#: normal_fd_step=0.004, field=grid), without the settings added later (shading_hidden, renderer, ...)
FLAT_SAVED = {
    "preset": "paper",
    "field": "grid",
    "grid_resolutions": [16, 32, 64, 128],
    "grid_features": 4,
    "hash_resolutions": [256],
    "hash_features": 2,
    "hash_table_log2": 20,
    "mlp_hidden": 64,
    "mlp_hidden_layers": 1,
    "grid_init_std": 0.0001,
    "paper_hidden": 512,
    "paper_blocks": 5,
    "init_radius": 0.5,
    "prior_sharpness": 10.0,
    "head_scale": 0.01,
    "sh_degree": 0,
    "iters": 7,
    "minutes": None,
    "lr": 0.0001,
    "lr_final_ratio": 0.5,
    "rays_per_step": 1024,
    "views_per_step": 1,
    "mask_ray_fraction": 0.5,
    "edge_ray_fraction": 0.0,
    "mask_probe": "random",
    "volume_until": 0.85,
    "free_samples": 4,
    "interval_samples": 8,
    "interval_max": 1.0,
    "interval_min": 0.05,
    "interval_decay": 5.0,
    "tau": 0.5,
    "steps_schedule": [[0, 16], [0.16666666666666666, 32], [0.3333333333333333, 64], [0.6666666666666666, 128]],
    "n_secant": 8,
    "render_steps": 256,
    "w_rgb": 1.0,
    "w_freespace": 1.0,
    "w_occupancy": 1.0,
    "w_normal": 0.05,
    "w_depth": 0.0,
    "normal_eps": 0.01,
    "w_sparse": 0.5,
    "sparse_per_step": 512,
    "normal_fd_step": 0.004,
    "occ_grid_res": 64,
    "occ_grid_every": 200,
    "downscale": 1.0,
    "max_size": None,
    "holdout": 3,
    "seed": 0,
    "device": "auto",
    "checkpoint_every_s": 120.0,
    "preview_every_s": 180.0,
}

#: config.json as dvr saved it from 2026-12-05 until the parts moved next to what they build (nested,
#: the field a string switch in ``network``): FitConfig.from_preset("paper", iters=7, holdout=3,
#: w_sparse=0.5, field="grid", normal_fd_step=0.004, tau=0.4, render_steps=200).to_json()
NESTED_SAVED = (
    '{"preset": "paper", "network": {"field": "grid", "grid_resolutions": [16, 32, 64, 128], '
    '"grid_features": 4, "hash_resolutions": [256], "hash_features": 2, "hash_table_log2": 20, '
    '"mlp_hidden": 64, "mlp_hidden_layers": 1, "grid_init_std": 0.0001, "paper_hidden": 512, '
    '"paper_blocks": 5, "init_radius": 0.5, "prior_sharpness": 10.0, "head_scale": 0.01, "sh_degree": 0, '
    '"shading_hidden": 0, "shading_fd_step": 0.008, "kernel": "native", "sparse_adam": true}, '
    '"rendering": {"renderer": "surface", "volume_until": 0.85, "free_samples": 4, "interval_samples": 8, '
    '"interval_max": 1.0, "interval_min": 0.05, "interval_decay": 5.0, "tau": 0.4, "n_secant": 8, '
    '"render_steps": 200, "stop_at_hit": true, "compile": false, "occ_grid_res": 64, '
    '"occ_grid_every": 200, "background": "envmap", "background_samples": 16, "background_grid": 64}, '
    '"losses": {"w_rgb": 1.0, "w_freespace": 1.0, "w_occupancy": 1.0, "w_normal": 0.05, "w_depth": 0.0, '
    '"normal_eps": 0.01, "w_sparse": 0.5, "sparse_per_step": 512, "normal_fd_step": 0.004}, '
    '"schedule": {"iters": 7, "minutes": null, "lr": 0.0001, "lr_final_ratio": 0.5, "steps_schedule": [[0, '
    "16], [0.16666666666666666, 32], [0.3333333333333333, 64], [0.6666666666666666, 128]]}, "
    '"sampler": {"rays_per_step": 1024, "views_per_step": 1, "mask_ray_fraction": 0.5, '
    '"edge_ray_fraction": 0.0, "mask_probe": "random"}, "downscale": 1.0, "max_size": null, "holdout": 3, '
    '"seed": 0, "device": "auto", "checkpoint_every_s": 120.0, "preview_every_s": 180.0}'
)

#: Settings by the flat names they had before they were renamed (config/renamed.py), as an old batch
#: manifest or a Python caller may still give them.
OLD_NAMES = {"render_steps": 96, "steps_schedule": [[0, 16], [0.5, 24]], "normal_eps": 0.02}
