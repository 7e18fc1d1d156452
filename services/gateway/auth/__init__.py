"""Who may connect: token extraction, JWT verification, namespace rules.

The gateway's `connect` handler calls `extract_token`, then
`TokenVerifier.verify`, then `check_namespace`; each refusal is an `AuthError`
whose `code` and `message` go into the Socket.IO `connect_error` data.
"""

from services.gateway.auth.errors import AuthError
from services.gateway.auth.namespaces import check_namespace
from services.gateway.auth.tokens import extract_http_token, extract_token
from services.gateway.auth.verify import MAX_TOKEN_LENGTH, TokenVerifier, VerifiedToken

__all__ = [
    "MAX_TOKEN_LENGTH",
    "AuthError",
    "TokenVerifier",
    "VerifiedToken",
    "check_namespace",
    "extract_http_token",
    "extract_token",
]
