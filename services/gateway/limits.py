"""Rate limiting: per connection (Socket.IO) and per user (the HTTP API)."""

from __future__ import annotations

import math
import time


class TokenBucket:
    """A token bucket: `rate` events per second sustained, bursts up to `burst`."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float | None = None) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> bool:
        """Spend one token; False when the caller is over its limit."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the next token (at least 1)."""
        now = time.monotonic() if now is None else now
        tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def idle(self, now: float) -> bool:
        """True once the bucket has refilled: forgetting it changes nothing."""
        return self._tokens + (now - self._last) * self._rate >= self._burst


class KeyedBuckets:
    """One `TokenBucket` per key (e.g. `(tenant, user)`), in this process only.

    Memory stays bounded: past `max_keys` keys, buckets that have refilled are
    forgotten (they would allow a full burst anyway), then the oldest ones.
    """

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def take(self, key: tuple[str, ...], now: float | None = None) -> int:
        """Spend one token of `key`'s bucket: 0 when allowed, else seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, now)
        if bucket.take(now):
            return 0
        return bucket.retry_after(now)

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.idle(now)]:
            del self._buckets[key]
        while len(self._buckets) >= self._max_keys:
            del self._buckets[next(iter(self._buckets))]
