"""Error codes shared by the client protocol and the NATS contracts."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ErrorCode(StrEnum):
    """The error codes of PROTOCOL.md."""

    INVALID = "INVALID"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_LARGE = "TOO_LARGE"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class ErrorBody(BaseModel):
    """An error as clients and services see it."""

    code: ErrorCode = Field(description="One of the PROTOCOL.md error codes.")
    message: str = Field(description="A human-readable explanation; never contains secrets.")


class ServiceError(Exception):
    """Raised inside a service to answer a command with an error body."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message)
