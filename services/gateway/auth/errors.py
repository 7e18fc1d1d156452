"""The error every authentication and namespace check raises."""

from __future__ import annotations

from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity


class AuthError(ServiceError):
    """A refused connection or token.

    `message` is safe to send to the client: it names what was wrong (expired,
    bad signature, which claim) and never contains the token or a claim value.
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.UNAUTHENTICATED) -> None:
        super().__init__(code, message)
        self.identity: Identity | None = None
        """Who was refused, when the token was verified (a namespace refusal)."""
