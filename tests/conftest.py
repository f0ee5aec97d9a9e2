"""Shared test settings: hypothesis profiles.

Pick one with ``HYPOTHESIS_PROFILE=<name>`` or ``pytest --hypothesis-profile=<name>``:
- ``dev`` (default): few examples, so the op suite runs in well under a minute on 2 cores;
- ``ci``: the same budget, derandomized (the same examples on every run) and printing
  the reproduction blob of a failure;
- ``thorough``: many more examples, for hunting bugs locally.
No deadline anywhere: a gradcheck's time depends on the shape drawn and on the machine's load.
"""
import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("ci", max_examples=30, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=300, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
