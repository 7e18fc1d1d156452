"""A verified token's time claims: JSON numbers only, and an optional lifetime cap.

PyJWT reads `exp`, `nbf` and `iat` with `int(...)`, so `"exp": "9999999999"` or
`"iat": true` pass its checks. RFC 7519 defines them as NumericDate, a JSON number:
anything else is refused here. When `max_ttl` is set, the verifier requires `iat`
(a token that does not say when it was issued cannot show its lifetime) and
`exp - iat` may not exceed it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from services.gateway.auth.errors import AuthError

TIME_CLAIMS = ("exp", "nbf", "iat")


def check_times(claims: Mapping[str, Any], max_ttl: int) -> None:
    """Refuse time claims that are not numbers, and lifetimes over `max_ttl`.

    Args:
        claims: the payload of a token whose signature PyJWT has checked.
        max_ttl: the longest accepted `exp - iat`, seconds; 0 for no limit (then
            `iat` need not be present).

    Raises:
        AuthError: UNAUTHENTICATED, naming the claim or the limit.
    """
    for name in TIME_CLAIMS:
        if name in claims and not _is_numeric_date(claims[name]):
            raise AuthError(f"token claim {name!r} must be a number")
    if max_ttl and claims["exp"] - claims["iat"] > max_ttl:
        raise AuthError(f"token lifetime is over the {max_ttl} s this server accepts")


def _is_numeric_date(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
