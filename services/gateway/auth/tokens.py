"""Where a connecting client's JWT is found (docs/protocol.md, "Connecting").

python-socketio hands a `connect` handler the Engine.IO `environ` of the first
HTTP request of the session (a WSGI-style dict, also under ASGI): headers as
`HTTP_<NAME>` strings, repeated headers joined with `,`, the query string
undecoded in `QUERY_STRING`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

QUERY_PARAM = "token"


def extract_token(environ: Mapping[str, Any], auth: Any, cookie_name: str) -> str | None:
    """Find the client's token, in protocol order.

    Sources, first match wins: the handshake `auth` object's `token`, an
    `Authorization: Bearer` header, the `token` query parameter, the cookie
    `cookie_name`. A source with a value of the wrong type, an empty value or a
    malformed header counts as absent and the next source is tried.

    Args:
        environ: the Engine.IO environ passed to the Socket.IO `connect` handler.
        auth: the `auth` payload of the Socket.IO CONNECT packet (any JSON value).
        cookie_name: name of the cookie that may hold the token.

    Returns:
        The raw token, or None when no source holds one.
    """
    return (
        _from_auth(auth)
        or _from_authorization(environ.get("HTTP_AUTHORIZATION"))
        or _from_query(environ.get("QUERY_STRING"))
        or _from_cookie(environ.get("HTTP_COOKIE"), cookie_name)
    )


def extract_http_token(
    authorization: str | None, cookie_header: str | None, cookie_name: str
) -> str | None:
    """The HTTP API's token: an `Authorization: Bearer` header, else the cookie
    `cookie_name`, read as `extract_token` reads them. Never the query string: URLs of
    plain HTTP requests end up in proxies' and servers' access logs."""
    return _from_authorization(authorization) or _from_cookie(cookie_header, cookie_name)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _from_auth(auth: Any) -> str | None:
    if not isinstance(auth, dict):
        return None
    return _clean(auth.get("token"))


def _from_authorization(header: Any) -> str | None:
    if not isinstance(header, str):
        return None
    scheme, _, credentials = header.strip().partition(" ")
    token = credentials.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if any(ch.isspace() or ch == "," for ch in token):
        return None
    return token


def _from_query(query: Any) -> str | None:
    if not isinstance(query, str) or not query:
        return None
    for name, value in parse_qsl(query):
        if name == QUERY_PARAM and (token := _clean(value)):
            return token
    return None


def _from_cookie(header: Any, cookie_name: str) -> str | None:
    if not isinstance(header, str) or not cookie_name:
        return None
    for part in header.replace(",", ";").split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip() == cookie_name and (token := _clean(value.strip().strip('"'))):
            return token
    return None
