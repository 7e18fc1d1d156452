"""Errors of the HTTP API: `{error: {code, message}}` with the status of its code.

Every refusal, whoever raises it (the rooms service, the persistence service, the
gateway's own checks, FastAPI's request validation, an unknown path), leaves the API
in this one shape, so that a client reads `error.code` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from contracts.errors import ErrorBody, ErrorCode, ServiceError

STATUS: Mapping[ErrorCode, int] = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}
"""The HTTP status of each error code."""

_CODE_OF_STATUS: Mapping[int, ErrorCode] = {
    **{status: code for code, status in STATUS.items()},
    405: ErrorCode.INVALID,
}


class ErrorOut(BaseModel):
    """Every refusal of the HTTP API."""

    error: ErrorBody = Field(description="The error code and a human-readable message.")


class RateLimited(ServiceError):
    """`RATE_LIMITED`, with the seconds after which a retry may pass (`Retry-After`)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message)
        self.retry_after = retry_after


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    STATUS[code]: {"model": ErrorOut, "description": description}
    for code, description in (
        (ErrorCode.INVALID, "`INVALID`: malformed JSON, a wrong type or value"),
        (ErrorCode.UNAUTHENTICATED, "`UNAUTHENTICATED`: no token, or a bad one"),
        (ErrorCode.FORBIDDEN, "`FORBIDDEN`: the role table does not allow it"),
        (ErrorCode.NOT_FOUND, "`NOT_FOUND`: no such room, or one you may not read"),
        (ErrorCode.TOO_LARGE, "`TOO_LARGE`: the request or the message body is too large"),
        (ErrorCode.RATE_LIMITED, "`RATE_LIMITED`: over a per-user limit; see Retry-After"),
        (ErrorCode.UNAVAILABLE, "`UNAVAILABLE`: a backing service did not answer in time"),
    )
}
"""What every endpoint may answer besides its success, for the OpenAPI document."""

CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "`CONFLICT`: the slug or primary link is taken"}
}


def status_of(code: ErrorCode | str) -> int:
    """The HTTP status of an error code (500 for a code this gateway does not know)."""
    try:
        return STATUS[ErrorCode(code)]
    except ValueError:
        return 500


def error_response(
    code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """`{error: {code, message}}` with the status of `code`."""
    body = {"error": {"code": str(code), "message": message}}
    return JSONResponse(body, status_code=status_of(code), headers=dict(headers or {}))


def describe(errors: Sequence[Any]) -> str:
    """The first few validation errors as `where: what`, e.g. `body.name: Field required`."""
    parts = []
    for err in errors[:3]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Answer every refusal of `app` as `{error: {code, message}}`."""

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        elif exc.code is ErrorCode.UNAUTHENTICATED:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(exc.code, exc.message, headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return error_response(ErrorCode.INVALID, describe(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _CODE_OF_STATUS.get(exc.status_code, ErrorCode.INVALID)
        message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(
            {"error": {"code": str(code), "message": message}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so the server logs the traceback once
        return error_response(ErrorCode.INTERNAL, "internal error")

    app.add_exception_handler(ServiceError, refused)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, bug)
