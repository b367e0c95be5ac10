"""Shared pytest configuration: hypothesis profiles and common fixtures.

``HYPOTHESIS_PROFILE`` selects the profile: ``ci`` (modest, what `make test`
runs), ``dev`` (default), ``slow`` (thorough, for local soak runs) or
``fuzz`` (``make fuzz``: ``FUZZ_EXAMPLES`` examples).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# CI draws the same examples every run (derandomize), like proptest's fixed
# seed in the Makefile: a run passes or fails on the code, not on the draw.
# "dev" (the default outside make) and "slow" explore.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile(
    "slow", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
# `make fuzz`: FUZZ_EXAMPLES new examples, exploring (see tests/test_fuzz.py).
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def pool():
    import alkahest

    return alkahest.ExprPool()
