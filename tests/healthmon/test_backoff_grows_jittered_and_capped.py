"""healthmon.backoff: the pauses of the loops that wait out an outage grow, are spread, and never pass the cap."""

from __future__ import annotations

from healthmon.backoff import JITTER, backoff, exponential, jittered


def test_the_delay_doubles_from_the_first_and_stops_at_the_cap():
    assert [exponential(n, 1.0, 15.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert exponential(10_000, 0.5, 15.0) == 15.0


def test_jitter_only_shortens_a_delay_by_at_most_half():
    assert jittered(10.0, rand=lambda: 0.0) == 10.0
    assert jittered(10.0, rand=lambda: 0.999999) > 10.0 * (1 - JITTER) - 1e-6
    assert all(5.0 <= backoff(9, 1.0, 10.0) <= 10.0 for _ in range(200))


def test_two_processes_that_failed_together_do_not_retry_in_step():
    assert len({round(backoff(3, 1.0, 15.0), 6) for _ in range(20)}) > 1
