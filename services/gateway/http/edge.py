"""What every HTTP API request passes before any route: origin, size, token, rate.

A plain ASGI middleware, so that a refused request is answered without reading its
body or running FastAPI's validation, in this order:

1. a browser request (it has an `Origin` header) from an origin the gateway does not
   allow is `FORBIDDEN`: a cookie-authenticated request is refused, not merely hidden
   from the page (CORS alone would still run it); an allowed one gets the CORS headers,
   and its preflight (`OPTIONS`) is answered here;
2. a body over `ROOMCAST_MAX_FRAME_BYTES` (the Socket.IO frame limit) is `TOO_LARGE`
   (413), from `Content-Length` or while reading it;
3. a missing or invalid token is `UNAUTHENTICATED` (except for the OpenAPI document;
   `/api/server/...` takes a service API key instead, `service_keys`);
4. a user over `ROOMCAST_HTTP_RATE_LIMIT_PER_SEC` / `_BURST` is `RATE_LIMITED`.

The verified identity goes to the routes in `scope["state"]["identity"]`.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import ErrorCode
from contracts.security import SecurityKind
from services.gateway.auth import AuthError, TokenVerifier, extract_http_token
from services.gateway.http.errors import error_response
from services.gateway.http.origins import origin_allowed, same_origins
from services.gateway.limits import KeyedBuckets
from services.gateway.service_keys import find_key
from services.gateway.settings import GatewaySettings
from services.gateway.signals import GatewaySignals

OPENAPI_PATH = "/api/openapi.json"
SERVER_PREFIX = "/api/server/"
"""Routes for backend services: a service API key instead of a user's token."""
PREFLIGHT_MAX_AGE = "600"
ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"


class Edge:
    """Wraps the API app with the checks every request passes first."""

    def __init__(
        self,
        app: ASGIApp,
        settings: GatewaySettings,
        verifier: TokenVerifier,
        requests: KeyedBuckets,
        signals: GatewaySignals | None = None,
    ) -> None:
        self._app = app
        self._settings = settings
        self._verifier = verifier
        self._requests = requests
        self._signals = signals
        self._keys = settings.service_keys()

    def _refused(
        self, kind: SecurityKind | None, code: ErrorCode, reason: str, scope: Scope, **fields: Any
    ) -> None:
        if self._signals is not None:
            self._signals.http_refused(kind, code, reason, scope, **fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None:
            if not self._origin_ok(scope, headers, origin):
                kind = SecurityKind.ORIGIN_REFUSED
                self._refused(kind, ErrorCode.FORBIDDEN, "origin not allowed", scope, origin=origin)
                refusal = error_response(ErrorCode.FORBIDDEN, "this origin may not call the API")
                await refusal(scope, receive, send)
                return
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _preflight(origin, headers)(scope, receive, send)
                return
            send = _with_cors(send, origin)
        denied = await self._admit(scope, headers)
        if denied is not None:
            await denied(scope, receive, send)
            return
        body = await self._read_body(headers, receive)
        if body is None:
            limit = self._settings.max_frame_bytes
            self._refused(
                SecurityKind.FRAME_TOO_LARGE, ErrorCode.TOO_LARGE, "body over limit", scope
            )
            await error_response(ErrorCode.TOO_LARGE, f"the body is over {limit} bytes")(
                scope, receive, send
            )
            return
        await self._app(scope, _replay(body, receive), send)

    def _origin_ok(self, scope: Scope, headers: Headers, origin: str) -> bool:
        own = same_origins(
            scope.get("scheme", "http"),
            headers.get("host"),
            headers.get("x-forwarded-proto"),
            headers.get("x-forwarded-host"),
        )
        return origin_allowed(origin, self._settings.cors_origins, own)

    async def _admit(self, scope: Scope, headers: Headers) -> Response | None:
        """The refusal of a request by its size, token or rate, or None to let it in."""
        length = headers.get("content-length")
        limit = self._settings.max_frame_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            self._refused(
                SecurityKind.FRAME_TOO_LARGE, ErrorCode.TOO_LARGE, "body over limit", scope
            )
            return error_response(ErrorCode.TOO_LARGE, f"the body is over {limit} bytes")
        if scope["path"] == OPENAPI_PATH:
            return None
        if scope["path"].startswith(SERVER_PREFIX):
            return self._admit_service(scope, headers)
        token = extract_http_token(
            headers.get("authorization"), headers.get("cookie"), self._settings.jwt_cookie
        )
        try:
            if token is None:
                raise AuthError("a token is required: Authorization: Bearer, or the cookie")
            verified = await self._verifier.verify(token)
        except AuthError as exc:
            self._refused(SecurityKind.AUTH_FAILED, exc.code, exc.message, scope)
            return error_response(exc.code, exc.message, {"WWW-Authenticate": "Bearer"})
        who = verified.identity
        wait = self._requests.take((who.tenant, who.user_id))
        if wait:
            message = "too many requests; slow down"
            self._refused(
                SecurityKind.RATE_LIMITED,
                ErrorCode.RATE_LIMITED,
                message,
                scope,
                tenant=who.tenant,
                user_id=who.user_id,
                role=who.role,
            )
            return error_response(ErrorCode.RATE_LIMITED, message, {"Retry-After": str(wait)})
        scope.setdefault("state", {})["identity"] = who
        return None

    def _admit_service(self, scope: Scope, headers: Headers) -> Response | None:
        """A backend service's request: a configured service API key, within its rate."""
        scheme, _, presented = (headers.get("authorization") or "").partition(" ")
        key = find_key(self._keys, presented.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            message = "a service API key is required: Authorization: Bearer <key>"
            self._refused(SecurityKind.AUTH_FAILED, ErrorCode.UNAUTHENTICATED, message, scope)
            challenge = {"WWW-Authenticate": "Bearer"}
            return error_response(ErrorCode.UNAUTHENTICATED, message, challenge)
        wait = self._requests.take(("service", key.name))
        if wait:
            message = "too many requests; slow down"
            reason = f"service key {key.name!r}: {message}"
            self._refused(SecurityKind.RATE_LIMITED, ErrorCode.RATE_LIMITED, reason, scope)
            return error_response(ErrorCode.RATE_LIMITED, message, {"Retry-After": str(wait)})
        scope.setdefault("state", {})["service_key"] = key
        return None

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (nothing of it is used)."""
        limit = self._settings.max_frame_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then waits as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"Retry-After"),
        (b"vary", b"Origin"),
    ]


def _with_cors(send: Send, origin: str) -> Send:
    extra = _cors_headers(origin)

    async def cors_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return cors_send


def _preflight(origin: str, headers: Headers) -> Response:
    allow: dict[str, Any] = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": headers.get(
            "access-control-request-headers", "authorization, content-type"
        ),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Vary": "Origin",
    }
    return Response(status_code=204, headers=allow)
