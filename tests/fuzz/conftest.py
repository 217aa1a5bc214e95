"""Hypothesis settings for the parser fuzz tests: a bounded number of
examples, no deadline (the machine is shared), nothing written into the
checkout (no example database; its other caches go to a temporary
directory), and the same examples on every run, so a test
run passes or fails the same way each time. Explore further with
HYPOTHESIS_PROFILE=explore (random examples, ten times as many)."""

import atexit
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

_home = tempfile.mkdtemp(prefix="hypothesis-")
set_hypothesis_home_dir(_home)
atexit.register(shutil.rmtree, _home, ignore_errors=True)

settings.register_profile(
    "moxpy", max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow], derandomize=True,
)
settings.register_profile("explore", parent=settings.get_profile("moxpy"), max_examples=3000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "moxpy"))
