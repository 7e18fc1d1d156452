"""orjson behind the `json` interface python-socketio and python-engineio expect.

Falls back to the standard library for what orjson refuses (integers beyond 64 bits,
non-string keys), so any payload the stdlib accepts still works.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

JSONDecodeError = json.JSONDecodeError


def dumps(obj: Any, **kwargs: Any) -> str:
    """Compact JSON text."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return json.dumps(obj, separators=(",", ":"))


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """Parse JSON text; anything unparsable raises `ValueError`, also too deep nesting."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except RecursionError:
            raise JSONDecodeError("nested too deeply", "", 0) from None
