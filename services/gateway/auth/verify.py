"""JWT verification for connecting clients (docs/protocol.md, "Connecting")."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)
from jwt.algorithms import get_default_algorithms
from jwt.types import Options

from contracts.claims import forwarded
from contracts.identity import Identity
from services.gateway.auth.claims import ClaimMapper
from services.gateway.auth.errors import AuthError
from services.gateway.auth.jwks import JwksCache
from services.gateway.auth.keys import static_keys
from services.gateway.auth.times import check_times
from services.gateway.settings import GatewaySettings

MAX_TOKEN_LENGTH = 16 * 1024
"""Longer strings are refused before any parsing."""

_REASONS: tuple[tuple[type[PyJWTError], str], ...] = (
    (ExpiredSignatureError, "token has expired"),
    (ImmatureSignatureError, "token is not valid yet"),
    (InvalidIssuedAtError, "token has an invalid 'iat' claim"),
    (InvalidSignatureError, "token signature is invalid"),
    (InvalidAudienceError, "token audience is not accepted"),
    (InvalidIssuerError, "token issuer is not accepted"),
)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid token asserts.

    Attributes:
        identity: the user, tenant, role and display name.
        exp: expiry, seconds since the Unix epoch (before leeway).
        claims: the claims forwarded to room-kind policies (`policy_claims`).
    """

    identity: Identity
    exp: int
    claims: dict[str, Any] = field(default_factory=dict)


class TokenVerifier:
    """Verifies tokens against pinned algorithms and configured keys.

    Build one per process from the settings: keys are parsed, PyJWT objects
    created and JWKS keys cached once, so `verify` costs one signature check.
    """

    def __init__(
        self, settings: GatewaySettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Prepare keys and options.

        Args:
            settings: gateway settings (algorithms, keys, claims, leeway).
            clock: monotonic time source for the JWKS refetch limit.

        Raises:
            ValueError: the key configuration cannot verify any configured algorithm.
        """
        self._algorithms = frozenset(settings.jwt_algorithms)
        self._algorithm_objects = {
            name: get_default_algorithms()[name] for name in settings.jwt_algorithms
        }
        asymmetric = not settings.jwt_algorithms[0].startswith("HS")
        if settings.jwks_url and (settings.jwt_public_key or not asymmetric):
            raise ValueError("jwks_url is for RS*/ES* algorithms without jwt_public_key")
        self._jwks: JwksCache | None = None
        self._keys: dict[str, Any] = {}
        if settings.jwks_url:
            self._jwks = JwksCache(
                settings.jwks_url, min_refresh=settings.jwks_min_refresh, clock=clock
            )
        else:
            self._keys = static_keys(settings)
        required = ["exp"]
        if settings.jwt_audience:
            required.append("aud")
        if settings.jwt_issuer:
            required.append("iss")
        if settings.jwt_max_ttl:
            required.append("iat")
        options: Options = {
            "require": required,
            "verify_aud": bool(settings.jwt_audience),
            "verify_iss": bool(settings.jwt_issuer),
            "verify_sub": False,
        }
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._leeway = settings.jwt_leeway
        self._max_ttl = settings.jwt_max_ttl
        self._jwt = jwt.PyJWT(options)
        self._claims = ClaimMapper(settings)
        self._forwarded = tuple(settings.policy_claims)

    @property
    def jwks(self) -> JwksCache | None:
        """The JWKS key cache, when keys come from a JWKS URL."""
        return self._jwks

    async def warm_up(self) -> None:
        """Fetch the JWKS before the first client arrives (no-op for static keys)."""
        if self._jwks is not None:
            await self._jwks.refresh()

    async def verify(self, token: str) -> VerifiedToken:
        """Check a token and return the identity it asserts.

        Args:
            token: the raw JWT, as `extract_token` found it.

        Returns:
            The verified identity and expiry.

        Raises:
            AuthError: UNAUTHENTICATED, with a message that never echoes the token.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("token is missing or malformed")
        header = _unverified_header(token)
        if header is None:
            raise AuthError("token is malformed")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthError("token algorithm is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("token is malformed")
        key = await self._key(alg, kid)
        try:
            claims = self._jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from None
        except PyJWTError as exc:
            raise AuthError(_reason(exc)) from None
        check_times(claims, self._max_ttl)
        return VerifiedToken(
            identity=self._claims.identity(claims),
            exp=int(claims["exp"]),
            claims=forwarded(claims, self._forwarded) if self._forwarded else {},
        )

    async def _key(self, alg: str, kid: str | None) -> Any:
        if self._jwks is None:
            key = self._keys.get(alg)
            if key is None:
                raise AuthError("token algorithm is not accepted")
            return key
        signing = await self._jwks.get(kid)
        if signing is None:
            raise AuthError("token signing key is unknown")
        if signing.algorithm is not None and signing.algorithm != alg:
            raise AuthError("token algorithm does not match its key")
        try:
            return self._algorithm_objects[alg].prepare_key(signing.key)
        except (PyJWTError, TypeError, ValueError):
            raise AuthError("token algorithm does not match its key") from None


def _unverified_header(token: str) -> dict[str, Any] | None:
    """Read the header only to pick the key; PyJWT re-parses it strictly when verifying."""
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def _reason(exc: PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "token is invalid"
