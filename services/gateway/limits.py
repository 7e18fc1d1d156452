"""Per-connection rate limiting."""

from __future__ import annotations

import time


class TokenBucket:
    """A token bucket: `rate` events per second sustained, bursts up to `burst`."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        """Spend one token; False when the caller is over its limit."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
