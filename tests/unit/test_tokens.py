"""The one token minter: the claims it writes, and how callers change them."""

from __future__ import annotations

import jwt

from roomcast.dev.tokens import ClaimNames, mint

SECRET = "unit-test-secret-0123456789abcdef"


def decode(token: str) -> dict[str, object]:
    """The claims, checking only the signature."""
    options = {"verify_aud": False, "verify_exp": False, "verify_iat": False}
    claims: dict[str, object] = jwt.decode(token, SECRET, algorithms=["HS256"], options=options)
    return claims


def test_default_claims() -> None:
    claims = decode(mint(SECRET, "alice", "acme", now=1_000_000, ttl=120))
    assert claims == {
        "sub": "alice",
        "tenant": "acme",
        "role": "member",
        "iat": 1_000_000,
        "exp": 1_000_120,
    }


def test_configured_claim_names_audience_and_issuer() -> None:
    names = ClaimNames.from_env({"ROOMCAST_JWT_CLAIM_USER": "uid", "ROOMCAST_JWT_CLAIM_NAME": "nm"})
    token = mint(SECRET, "a", "t", "admin", name="A", audience="app", issuer="me", names=names)
    claims = decode(token)
    assert (claims["uid"], claims["tenant"], claims["role"], claims["nm"]) == (
        "a",
        "t",
        "admin",
        "A",
    )
    assert (claims["aud"], claims["iss"]) == ("app", "me")
    assert "sub" not in claims


def test_extra_claims_replace_and_none_removes() -> None:
    claims = decode(mint(SECRET, "a", "t", iat=None, exp="soon", extra=1))
    assert "iat" not in claims
    assert claims["exp"] == "soon"
    assert claims["extra"] == 1
