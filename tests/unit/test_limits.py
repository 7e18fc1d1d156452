from __future__ import annotations

from services.gateway.limits import TokenBucket


def test_burst_then_refill() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    start = 1000.0
    bucket._last = start
    assert [bucket.take(start) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(start + 0.5) is True
    assert bucket.take(start + 0.5) is False
    assert bucket.take(start + 10) is True
