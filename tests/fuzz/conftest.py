"""Hypothesis settings for the parser fuzz tests: a bounded number of
examples, no deadline (the machine is shared), and no example database
written into the checkout."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "moxpy", max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("moxpy")
