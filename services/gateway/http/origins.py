"""Which browser origins may call the HTTP API: the same rule as the Socket.IO side.

`ROOMCAST_CORS_ORIGINS` empty means same origin only, where the request's own origin is
its scheme and `Host` (and, as Engine.IO also accepts it, the `X-Forwarded-Proto` /
`X-Forwarded-Host` one); `*` means any origin; otherwise the origin must be listed.
"""

from __future__ import annotations

from collections.abc import Sequence


def same_origins(
    scheme: str, host: str | None, forwarded_proto: str | None, forwarded_host: str | None
) -> list[str]:
    """The origins a request counts as its own."""
    if not host:
        return []
    own = [f"{scheme}://{host}"]
    if forwarded_proto or forwarded_host:
        proto = (forwarded_proto or scheme).split(",")[0].strip()
        fhost = (forwarded_host or host).split(",")[0].strip()
        own.append(f"{proto}://{fhost}")
    return own


def origin_allowed(origin: str, configured: Sequence[str], own: Sequence[str]) -> bool:
    """May a page of `origin` call the API, given `ROOMCAST_CORS_ORIGINS` and the
    request's own origins (`same_origins`)?"""
    if not configured:
        return origin in own
    return "*" in configured or origin in configured
