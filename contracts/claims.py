"""Token claims a gateway forwards to room-kind policies (`User.claims`).

Only the claims named by the gateway's `ROOMCAST_POLICY_CLAIMS` travel, each at most
`MAX_CLAIM_BYTES` as JSON (a larger one is left out), so every command that may reach
a policy stays small.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, JsonValue

MAX_CLAIM_BYTES = 1024
"""Largest forwarded claim, as compact JSON."""

MAX_CLAIMS = 16
"""Most claims forwarded."""


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_CLAIMS:
        raise ValueError(f"at most {MAX_CLAIMS} claims are forwarded")
    for name, claim in value.items():
        if _size(claim) > MAX_CLAIM_BYTES or len(name) > 64:
            raise ValueError(f"claim {name[:64]!r} is over {MAX_CLAIM_BYTES} bytes")
    return value


def _size(value: Any) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":")))
    except (RecursionError, ValueError, TypeError):
        return MAX_CLAIM_BYTES + 1


Claims = Annotated[dict[str, JsonValue], AfterValidator(_bounded)]
"""Forwarded claims: at most 16, each at most 1 KiB as JSON."""


def forwarded(claims: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The claims among `names` present in a verified token, each within the bound
    (a larger one is left out, so a rule that needs it refuses)."""
    picked = {}
    for name in list(names)[:MAX_CLAIMS]:
        if name in claims and _size(claims[name]) <= MAX_CLAIM_BYTES:
            picked[name] = claims[name]
    return picked
