"""Error codes shared by the client protocol and the NATS contracts."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field


class ErrorCode(StrEnum):
    """The error codes of docs/protocol.md."""

    INVALID = "INVALID"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_LARGE = "TOO_LARGE"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class ErrorBody(BaseModel):
    """An error as clients and services see it."""

    code: ErrorCode = Field(description="One of the docs/protocol.md error codes.")
    message: str = Field(description="A human-readable explanation; never contains secrets.")


class ServiceError(Exception):
    """Raised inside a service to answer a command with an error body."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message)


class Reply(BaseModel):
    """What every service reply carries: `ok`, and `error` when it is false.

    Endpoint replies (`contracts.endpoints`) extend it with their own fields, each
    with a default so that a failure can be built for any of them with `failure`.
    """

    ok: bool = Field(description="True when the command succeeded.")
    error: ErrorBody | None = Field(default=None, description="Set when `ok` is false.")

    @classmethod
    def failure(cls, code: ErrorCode, message: str) -> Self:
        """A refusal of this reply type (the message is cut to 500 characters)."""
        return cls(ok=False, error=ErrorBody(code=code, message=message[:500]))

    def checked(self) -> Self:
        """This reply if it succeeded; else its error raised as a `ServiceError`."""
        if self.ok and self.error is None:
            return self
        error = self.error
        raise ServiceError(
            error.code if error else ErrorCode.INTERNAL,
            error.message if error else "refused without a reason",
        )
