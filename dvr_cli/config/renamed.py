"""Flat aliases renamed since runs were first saved, old -> new. Old config.json files, batch manifests
and Python callers still say the old names; the migration and :func:`flat.nest` read them as the new.
(A step is an iteration; a point along a ray is a sample; the loss part holds the terms' settings.)"""

RENAMED = {
    "render_steps": "render_samples",
    "steps_schedule": "samples_schedule",
    "normal_eps": "normal_jitter",
}
