"""Subject-safe, bounded encoding of ids (tenants, users, roles, room names).

NATS subject tokens may not contain `.`, `*`, `>` or whitespace, and a protocol line
longer than the server's `max_control_line` (4,096 bytes by default) makes the server
close the whole connection. Ids come from JWTs and clients, so every id that goes into
a subject is encoded, and no encoded id is longer than `MAX_TOKEN_LENGTH` whatever the
id holds:

- characters outside `[A-Za-z0-9_-]` become `~` followed by two hex digits per UTF-8
  byte (`a.b` → `a~2eb`), so plain ids stay readable in subjects and logs;
- when that form would be longer than `MAX_TOKEN_LENGTH`, the token is `~~` followed
  by the SHA-256 of the id's UTF-8 bytes in lower-case base32 (54 characters).

Both forms are injective: `~` itself is escaped, an escaped form never holds `~~` (a
`~` is always followed by a hex digit), and the hashed form is only used above the
length at which escaped forms stop. Two ids share a token only if SHA-256 collides.
"""

from __future__ import annotations

import base64
import hashlib
import re

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

MAX_TOKEN_LENGTH = 255
"""No encoded id is longer than this, so subjects stay far below NATS's control line."""

HASHED_PREFIX = "~~"


def encode_token(value: str) -> str:
    """Encode one id as a single, bounded NATS subject token.

    Args:
        value: a non-empty id, of any length and any characters.

    Returns:
        A token of `[A-Za-z0-9_~-]` characters, at most `MAX_TOKEN_LENGTH` long.

    Raises:
        ValueError: the id is empty.
    """
    if not value:
        raise ValueError("an id may not be empty")
    if len(value) <= MAX_TOKEN_LENGTH and _SAFE.fullmatch(value):
        return value
    out: list[str] = []
    size = 0
    for ch in value:
        if ch in _SAFE_CHARS:
            out.append(ch)
            size += 1
        else:
            escaped = "".join(f"~{b:02x}" for b in ch.encode())
            out.append(escaped)
            size += len(escaped)
        if size > MAX_TOKEN_LENGTH:
            return _hashed(value)
    return "".join(out)


def _hashed(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return HASHED_PREFIX + base64.b32encode(digest).decode().rstrip("=").lower()


def decode_token(token: str) -> str:
    """Invert `encode_token` for escaped tokens.

    Raises:
        ValueError: the token is a hashed one (its id cannot be recovered).
    """
    if token.startswith(HASHED_PREFIX):
        raise ValueError("a hashed token cannot be decoded")
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
