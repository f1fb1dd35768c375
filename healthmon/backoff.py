"""Retry delays for the loops that wait out an outage of the database or the queue (the scheduler's ticks, a
checker's receives and result commits, the alert sender's passes).

Exponential, capped, and jittered downwards: every process that saw the same outage (a fleet of checkers, two
schedulers) would otherwise retry in step and hit the returning database or queue all at once; and since the
jitter only shortens a delay, the cap stays a true bound: a process is back at most one cap after its
dependency returns.
"""

from __future__ import annotations

import random
from collections.abc import Callable

JITTER = 0.5
"""Each delay is scaled by a random factor in [1 - JITTER, 1]: spread over half its length, never longer."""

OUTAGE_BACKOFF_MAX = 15.0
"""The cap every outage loop uses: a process is working again within 15 s (plus one attempt) of its database or
queue coming back, well inside the 30 s the docs promise, at 4 failed attempts a minute per process during a
long outage."""


def exponential(failures: int, first: float, cap: float) -> float:
    """The delay after `failures` consecutive failures (1 = the first): first, 2 x first, 4 x first ... at most
    `cap`. Without jitter."""
    return min(cap, first * 2 ** max(0, min(failures - 1, 62)))


def jittered(delay: float, rand: Callable[[], float] = random.random) -> float:
    """`delay` scaled by a random factor in [1 - JITTER, 1]; `rand()` returns a float in [0, 1)."""
    return delay * (1.0 - JITTER * rand())


def backoff(failures: int, first: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """`exponential(failures, first, cap)` jittered: the delay to wait before the next attempt."""
    return jittered(exponential(failures, first, cap), rand)
