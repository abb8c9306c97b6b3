"""Fixtures of the batch tests: one embedded Ray of 2 CPUs for the session."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """Ray started once (2 CPUs, no dashboard): `dvr batch` then uses it instead of starting its own."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()
