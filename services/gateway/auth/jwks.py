"""Public keys from a JWKS endpoint, cached, with bounded refetching.

PyJWT's `PyJWKClient` does the HTTP request (http/https only, no redirects).
It blocks, so it runs in a worker thread, and its cache is off: this module
decides when to fetch. Only RSA and EC keys meant for signatures are kept.
A token whose `kid` is unknown triggers at most one fetch per `min_refresh`
seconds, however many kids an attacker sprays; concurrent lookups share one
fetch. A set older than `max_age` is refreshed in the background while its
keys keep serving, so keys removed from the set stop working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jwt import PyJWK, PyJWKClient, PyJWTError

logger = logging.getLogger(__name__)

SIGNING_KEY_TYPES = frozenset({"RSA", "EC"})
EMPTY_RETRY_SECONDS = 5.0
"""Retry delay while no key set has ever been fetched (a gateway that can verify nothing)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One usable key of the set.

    Attributes:
        key: the public key object PyJWT verifies with.
        algorithm: the JWK's `alg`, when it declares one; tokens must then use it.
    """

    key: Any
    algorithm: str | None


class JwksCache:
    """The signing keys of one JWKS URL, by `kid`."""

    def __init__(
        self,
        url: str,
        *,
        min_refresh: float,
        max_age: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the cache; nothing is fetched until the first lookup or `refresh`.

        Args:
            url: the JWKS endpoint, http or https.
            min_refresh: seconds between two fetches caused by unknown kids.
            max_age: seconds after which a fetched set is refreshed in the background.
            timeout: seconds allowed for one HTTP fetch.
            clock: monotonic time source (tests pass a fake one).

        Raises:
            ValueError: the URL is not http(s).
        """
        try:
            self._client = PyJWKClient(url, cache_jwk_set=False, timeout=timeout)
        except PyJWTError as exc:
            raise ValueError(f"jwks_url: {exc}") from None
        self._min_refresh = min_refresh
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at: float | None = None
        self._next_fetch = float("-inf")
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def get(self, kid: str | None) -> SigningKey | None:
        """The signing key for `kid`, fetching the set if allowed.

        Args:
            kid: the token header's `kid`; None matches a set holding one key.

        An unknown kid waits for a fetch already in flight, or starts one when the
        rate limit allows; otherwise it is answered from the keys held.

        Returns:
            The key, or None when the set (as fetched within the rate limit) has none.
        """
        key = self._lookup(kid)
        if key is None:
            if self._may_fetch() or self._lock.locked():
                await self.refresh()
                key = self._lookup(kid)
        elif self._is_stale() and self._may_fetch() and self._background is None:
            self._background = asyncio.create_task(self._refresh_in_background())
        return key

    async def refresh(self) -> None:
        """Fetch the key set now unless a fetch happened within the rate limit.

        A failed fetch is logged and keeps the keys already held.
        """
        async with self._lock:
            if not self._may_fetch():
                return
            now = self._clock()
            self._next_fetch = now + self._min_refresh
            try:
                data = await asyncio.to_thread(self._client.fetch_data)
                keys = _signing_keys(data)
            except (PyJWTError, OSError, ValueError) as exc:
                if self._fetched_at is None:
                    self._next_fetch = now + min(self._min_refresh, EMPTY_RETRY_SECONDS)
                logger.warning("JWKS fetch from %s failed: %s", self._client.uri, exc)
                return
            self._keys = keys
            self._fetched_at = self._clock()
            logger.info("JWKS fetched from %s: %d signing keys", self._client.uri, len(self._keys))

    async def settle(self) -> None:
        """Wait for a background refresh, if one runs (shutdown and tests)."""
        task = self._background
        if task is not None:
            await asyncio.shield(task)

    def _lookup(self, kid: str | None) -> SigningKey | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return self._clock() >= self._next_fetch

    def _is_stale(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at >= self._max_age

    async def _refresh_in_background(self) -> None:
        try:
            await self.refresh()
        finally:
            self._background = None


def _signing_keys(data: Any) -> dict[str | None, SigningKey]:
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the JWKS document has no 'keys' list")
    keys: dict[str | None, SigningKey] = {}
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or entry.get("kty") not in SIGNING_KEY_TYPES
            or entry.get("use", "sig") != "sig"
        ):
            continue
        try:
            jwk = PyJWK(entry)
        except PyJWTError:
            continue
        alg = entry.get("alg")
        keys[jwk.key_id] = SigningKey(jwk.key, alg if isinstance(alg, str) else None)
    if not keys:
        raise ValueError("the JWKS document holds no usable signing key")
    return keys
