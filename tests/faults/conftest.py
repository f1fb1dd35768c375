"""Fault-injection tests: the real processes (PostgreSQL, moto_server for SQS, `healthmon api/scheduler/checker`,
local targets and receivers) under crashes, outages, restarts and bad luck. Each test prints its counts.

The deployment fixtures are the end-to-end ones (tests/e2e/conftest.py); each topic keeps its own helpers in
its own `*_support.py` module here.
"""

from tests.e2e.conftest import distributed  # noqa: F401 - registers the fixture
from tests.support.moto import moto_server  # noqa: F401 - registers the fixture
