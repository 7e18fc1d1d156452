"""Composition of the HTTP API: routers, error handlers, the edge checks, OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from services.gateway.http.deps import ApiDeps
from services.gateway.http.edge import OPENAPI_PATH, Edge
from services.gateway.http.entities import router as entity_routes
from services.gateway.http.errors import ERROR_RESPONSES
from services.gateway.http.errors import install as install_error_handlers
from services.gateway.http.manage_rooms import router as manage_routes
from services.gateway.http.messages import router as message_routes
from services.gateway.http.my_rooms import router as my_room_routes
from services.gateway.http.server_disconnect import router as disconnect_routes
from services.gateway.http.server_publish import router as publish_routes
from services.gateway.http.timing import timed

ROUTERS = (
    entity_routes,
    manage_routes,
    my_room_routes,
    message_routes,
    publish_routes,
    disconnect_routes,
)

API_PREFIX = "/api"
TITLE = "roomcast HTTP API"
VERSION = "1"
DESCRIPTION = (
    "Explicit rooms over HTTP: every route needs the same JWT as the sockets "
    "(`Authorization: Bearer`, or the cookie), except `/api/server/...`, which takes a "
    "service API key (`Authorization: Bearer <key>`). Errors are `{error: {code, message}}`."
)


def build_fastapi(deps: ApiDeps | None = None, cookie: str = "access_token") -> FastAPI:
    """The FastAPI app alone (no edge checks): for `build_api`, and for writing the
    OpenAPI document without a gateway (`deps` None)."""
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    app.state.deps = deps
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": cookie},
            }
            schema["security"] = [{"bearer": []}, {"cookie": []}]
            _drop_422(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _drop_422(schema: dict[str, Any]) -> None:
    """Request validation answers 400 `INVALID` here, not FastAPI's 422."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)


def build_api(deps: ApiDeps) -> ASGIApp:
    """The HTTP API as served: `Edge` in front of the FastAPI app, timed when `deps`
    has signals (`roomcast_http_request_duration_seconds`)."""
    app = build_fastapi(deps, deps.settings.jwt_cookie)
    edge = Edge(app, deps.settings, deps.verifier, deps.limits.requests, deps.signals)
    return timed(edge, deps.signals) if deps.signals is not None else edge
