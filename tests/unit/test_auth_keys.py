"""RS*/ES* verification with a PEM public key, and key-confusion attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from contracts.errors import ErrorCode
from services.gateway.auth import AuthError, TokenVerifier
from services.gateway.settings import GatewaySettings

SECRET = "a-test-secret-of-at-least-32-bytes!!"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC384_KEY = ec.generate_private_key(ec.SECP384R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"sub": "u1", "tenant": "t1", "exp": int(time.time()) + 600}
    values.update(overrides)
    return values


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert info.value.code is ErrorCode.UNAUTHENTICATED
    return info.value.message


def pk_verifier(algorithms: list[str], pem: str) -> TokenVerifier:
    return TokenVerifier(GatewaySettings(jwt_algorithms=algorithms, jwt_public_key=pem))


async def test_rs256_with_pem_key() -> None:
    verifier = pk_verifier(["RS256"], public_pem(RSA_KEY))
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert (await verifier.verify(token)).identity.user_id == "u1"


async def test_rs256_signed_by_another_key_is_refused() -> None:
    verifier = pk_verifier(["RS256"], public_pem(RSA_KEY))
    token = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256")
    assert "signature" in await refused(verifier, token)


async def test_es256_with_pem_key() -> None:
    verifier = pk_verifier(["ES256"], public_pem(EC_KEY))
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256")
    assert (await verifier.verify(token)).identity.tenant == "t1"


async def test_pem_with_escaped_newlines_from_an_env_file() -> None:
    verifier = pk_verifier(["ES256"], public_pem(EC_KEY).replace("\n", "\\n"))
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256")
    assert (await verifier.verify(token)).identity.user_id == "u1"


async def test_hs256_signed_with_the_rsa_public_key_is_refused() -> None:
    pem = public_pem(RSA_KEY)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    assert "algorithm" in await refused(pk_verifier(["RS256"], pem), forged)


async def test_rs256_token_is_refused_when_hs256_is_configured() -> None:
    verifier = TokenVerifier(GatewaySettings(jwt_algorithms=["HS256"], jwt_secret=SECRET))
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert "algorithm" in await refused(verifier, token)


async def test_es256_token_refused_when_only_rs256_configured() -> None:
    verifier = pk_verifier(["RS256"], public_pem(RSA_KEY))
    assert "algorithm" in await refused(verifier, jwt.encode(claims(), EC_KEY, algorithm="ES256"))


async def test_algorithm_the_key_cannot_serve_is_refused() -> None:
    verifier = pk_verifier(["RS256", "ES256"], public_pem(EC_KEY))
    assert (await verifier.verify(jwt.encode(claims(), EC_KEY, algorithm="ES256"))).exp > 0
    assert "algorithm" in await refused(verifier, jwt.encode(claims(), RSA_KEY, algorithm="RS256"))


async def test_es384_token_against_a_p256_key_is_refused() -> None:
    verifier = pk_verifier(["ES256", "ES384"], public_pem(EC_KEY))
    token = jwt.encode(claims(), EC384_KEY, algorithm="ES384")
    assert "algorithm" in await refused(verifier, token)


async def test_alg_none_is_refused_with_a_public_key() -> None:
    header = b64(json.dumps({"alg": "none"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    assert "algorithm" in await refused(pk_verifier(["RS256"], public_pem(RSA_KEY)), token)


def test_private_key_in_configuration_is_rejected() -> None:
    pem = RSA_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="private key"):
        pk_verifier(["RS256"], pem)


def test_unusable_key_is_rejected_at_start() -> None:
    with pytest.raises(ValueError, match="jwt_public_key"):
        pk_verifier(["RS256"], public_pem(EC_KEY))
    with pytest.raises(ValueError, match="jwt_public_key"):
        pk_verifier(["RS256"], "not a pem")
