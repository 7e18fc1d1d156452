"""The restart rule of `roomcast dev`: back-off, and when it gives up."""

from __future__ import annotations

from roomcast.dev.restarts import CrashHistory, RestartPolicy


def test_back_off_doubles_up_to_its_cap() -> None:
    history = CrashHistory(RestartPolicy(max_crashes=10, window=60, first_delay=0.5, max_delay=4))
    delays = [history.record(float(t)) for t in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_gives_up_at_max_crashes_within_the_window() -> None:
    history = CrashHistory(RestartPolicy(max_crashes=3, window=60))
    assert history.record(0.0) is not None
    assert history.record(10.0) is not None
    assert history.record(59.0) is None


def test_crashes_older_than_the_window_are_forgotten() -> None:
    history = CrashHistory(RestartPolicy(max_crashes=3, window=60, first_delay=0.5))
    history.record(0.0)
    history.record(10.0)
    assert history.record(65.0) == 1.0
    assert history.recent == 2


def test_one_allowed_crash_gives_up_at_once() -> None:
    policy = RestartPolicy(max_crashes=1, window=60)
    assert CrashHistory(policy).record(0.0) is None
    assert policy.describe() == "1 crash within 60 s"
