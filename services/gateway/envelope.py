"""The acknowledgement envelope every client event gets (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from contracts.errors import ErrorCode

Ack = dict[str, Any]


def ok(**fields: Any) -> Ack:
    """`{ok: true, ...fields}`."""
    return {"ok": True, **fields}


def fail(code: ErrorCode | str, message: str) -> Ack:
    """`{ok: false, error: {code, message}}`."""
    return {"ok": False, "error": {"code": str(code), "message": message}}
