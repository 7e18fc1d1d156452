"""Subject-safe encoding of ids (tenants, users, roles, room names).

NATS subject tokens may not contain `.`, `*`, `>` or whitespace. Ids come from JWTs
and clients, so every id that goes into a subject is encoded: characters outside
`[A-Za-z0-9_-]` become `~` followed by two hex digits per UTF-8 byte. The encoding is
injective (`~` itself is escaped), so two ids never share a subject.
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_ID_LENGTH = 256


def encode_token(value: str) -> str:
    """Encode one id as a single NATS subject token.

    Args:
        value: a non-empty id of at most 256 characters.

    Returns:
        A token of `[A-Za-z0-9_~-]` characters only.

    Raises:
        ValueError: the id is empty or too long.
    """
    if not value:
        raise ValueError("an id may not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"an id may have at most {MAX_ID_LENGTH} characters")
    if _SAFE.fullmatch(value):
        return value
    out: list[str] = []
    for ch in value:
        if ch in _SAFE_CHARS:
            out.append(ch)
        else:
            out.extend(f"~{b:02x}" for b in ch.encode())
    return "".join(out)


def decode_token(token: str) -> str:
    """Invert `encode_token`."""
    if "~" not in token:
        return token
    raw = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "~":
            raw.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(token[i].encode())
            i += 1
    return raw.decode()
