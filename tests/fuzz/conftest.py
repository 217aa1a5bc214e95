"""Hypothesis settings for the parser fuzz tests: a bounded number of
examples, no deadline (the machine is shared), no example database
written into the checkout, and the same examples on every run, so a test
run passes or fails the same way each time. Explore further with
HYPOTHESIS_PROFILE=explore (random examples, ten times as many)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "moxpy", max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow], derandomize=True,
)
settings.register_profile("explore", parent=settings.get_profile("moxpy"), max_examples=3000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "moxpy"))
