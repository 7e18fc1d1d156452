"""RS256/ES256 via a JWKS served by a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from contracts.errors import ErrorCode
from services.gateway.auth import AuthError, TokenVerifier
from services.gateway.auth.jwks import EMPTY_RETRY_SECONDS
from services.gateway.settings import GatewaySettings

MIN_REFRESH = 60.0
MAX_AGE = 300.0

KEY_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str | None, **extra: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        data["kid"] = kid
    data.update(extra)
    return data


@dataclass
class JwksServer:
    """Serves `document` (or `status`) at /jwks and counts the requests."""

    document: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    requests: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, *keys: dict[str, Any]) -> None:
        self.document = {"keys": list(keys)}


@pytest.fixture
def server() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
            body = json.dumps(state.document).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def verifier_for(server: JwksServer, clock: FakeClock, algorithms: list[str]) -> TokenVerifier:
    settings = GatewaySettings(
        jwt_algorithms=algorithms, jwks_url=server.url, jwks_min_refresh=MIN_REFRESH
    )
    return TokenVerifier(settings, clock=clock)


def token(key: Any, kid: str | None, alg: str = "RS256", **claims: Any) -> str:
    payload = {"sub": "u1", "tenant": "t1", "exp": int(time.time()) + 600, **claims}
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


async def refused(verifier: TokenVerifier, raw: str) -> str:
    with pytest.raises(AuthError) as info:
        await verifier.verify(raw)
    assert info.value.code is ErrorCode.UNAUTHENTICATED
    return info.value.message


async def test_rs256_key_found_by_kid(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(KEY_A, "a", use="sig"), jwk(KEY_B, "b"))
    verifier = verifier_for(server, clock, ["RS256"])
    assert (await verifier.verify(token(KEY_A, "a"))).identity.user_id == "u1"
    assert (await verifier.verify(token(KEY_B, "b"))).identity.user_id == "u1"
    assert server.requests == 1


async def test_wrong_key_for_kid_is_refused(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    assert "signature" in await refused(verifier, token(KEY_B, "a"))


async def test_es256_from_jwks(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(EC_KEY, "e"))
    verifier = verifier_for(server, clock, ["ES256"])
    assert (await verifier.verify(token(EC_KEY, "e", alg="ES256"))).identity.tenant == "t1"


async def test_warm_up_fetches_before_the_first_token(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    await verifier.warm_up()
    assert server.requests == 1
    await verifier.verify(token(KEY_A, "a"))
    assert server.requests == 1


async def test_rotation_new_kid_causes_exactly_one_refetch(
    server: JwksServer, clock: FakeClock
) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    await verifier.verify(token(KEY_A, "a"))
    server.publish(jwk(KEY_A, "a"), jwk(KEY_B, "b"))

    assert "unknown" in await refused(verifier, token(KEY_B, "b"))
    assert server.requests == 1

    clock.now += MIN_REFRESH
    results = await asyncio.gather(*(verifier.verify(token(KEY_B, "b")) for _ in range(20)))
    assert all(r.identity.user_id == "u1" for r in results)
    assert server.requests == 2
    await verifier.verify(token(KEY_A, "a"))
    assert server.requests == 2


async def test_kid_spray_fetches_at_most_once_per_window(
    server: JwksServer, clock: FakeClock
) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    await verifier.verify(token(KEY_A, "a"))
    assert server.requests == 1

    sprayed = [token(KEY_B, f"random-{i}") for i in range(200)]
    for raw in sprayed[:100]:
        assert "unknown" in await refused(verifier, raw)
    outcomes = await asyncio.gather(
        *(verifier.verify(raw) for raw in sprayed[100:]), return_exceptions=True
    )
    assert all(isinstance(o, AuthError) for o in outcomes)
    assert server.requests == 1

    clock.now += MIN_REFRESH
    outcomes = await asyncio.gather(
        *(verifier.verify(raw) for raw in sprayed), return_exceptions=True
    )
    assert all(isinstance(o, AuthError) for o in outcomes)
    assert server.requests == 2
    assert (await verifier.verify(token(KEY_A, "a"))).exp > 0


async def test_stale_set_is_refreshed_in_background_and_removed_keys_stop_working(
    server: JwksServer, clock: FakeClock
) -> None:
    server.publish(jwk(KEY_A, "a"), jwk(KEY_B, "b"))
    verifier = verifier_for(server, clock, ["RS256"])
    await verifier.verify(token(KEY_A, "a"))
    server.publish(jwk(KEY_B, "b"))

    clock.now += MAX_AGE
    assert (await verifier.verify(token(KEY_A, "a"))).exp > 0
    assert verifier.jwks is not None
    await verifier.jwks.settle()
    assert server.requests == 2
    assert "unknown" in await refused(verifier, token(KEY_A, "a"))
    assert (await verifier.verify(token(KEY_B, "b"))).exp > 0
    assert server.requests == 2


async def test_unreachable_jwks_refuses_then_recovers(server: JwksServer, clock: FakeClock) -> None:
    server.status = 500
    verifier = verifier_for(server, clock, ["RS256"])
    assert "unknown" in await refused(verifier, token(KEY_A, "a"))
    assert "unknown" in await refused(verifier, token(KEY_A, "a"))
    assert server.requests == 1

    server.status = 200
    server.publish(jwk(KEY_A, "a"))
    clock.now += EMPTY_RETRY_SECONDS
    assert (await verifier.verify(token(KEY_A, "a"))).exp > 0
    assert server.requests == 2


async def test_failed_refresh_keeps_the_keys_held(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    await verifier.verify(token(KEY_A, "a"))
    server.document = {"keys": "not a list"}
    clock.now += MIN_REFRESH
    await refused(verifier, token(KEY_B, "b"))
    assert server.requests == 2
    assert (await verifier.verify(token(KEY_A, "a"))).exp > 0


async def test_token_alg_must_match_the_jwk_alg(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(KEY_A, "declared", alg="RS256"), jwk(KEY_B, "open"))
    verifier = verifier_for(server, clock, ["RS256", "RS512"])
    assert "algorithm" in await refused(verifier, token(KEY_A, "declared", alg="RS512"))
    assert (await verifier.verify(token(KEY_B, "open", alg="RS512"))).exp > 0


async def test_ec_key_cannot_verify_an_rs_token(server: JwksServer, clock: FakeClock) -> None:
    server.publish(jwk(EC_KEY, "e"))
    verifier = verifier_for(server, clock, ["RS256", "ES256"])
    assert "match its key" in await refused(verifier, token(KEY_A, "e"))


async def test_encryption_and_symmetric_keys_are_ignored(
    server: JwksServer, clock: FakeClock
) -> None:
    secret = "a-test-secret-of-at-least-32-bytes!!"
    oct_jwk = {"kty": "oct", "kid": "h", "k": jwt.utils.base64url_encode(secret.encode()).decode()}
    server.publish(jwk(KEY_A, "enc", use="enc"), oct_jwk, jwk(KEY_B, "b"))
    verifier = verifier_for(server, clock, ["RS256"])
    assert "unknown" in await refused(verifier, token(KEY_A, "enc"))
    assert "algorithm" in await refused(verifier, token(secret, "h", alg="HS256"))
    assert (await verifier.verify(token(KEY_B, "b"))).exp > 0


async def test_token_without_kid_uses_a_single_key_set(
    server: JwksServer, clock: FakeClock
) -> None:
    server.publish(jwk(KEY_A, "a"))
    verifier = verifier_for(server, clock, ["RS256"])
    assert (await verifier.verify(token(KEY_A, None))).exp > 0
    server.publish(jwk(KEY_A, "a"), jwk(KEY_B, "b"))
    clock.now += MAX_AGE
    await verifier.verify(token(KEY_A, "a"))
    assert verifier.jwks is not None
    await verifier.jwks.settle()
    assert "unknown" in await refused(verifier, token(KEY_A, None))


def test_jwks_url_must_be_http() -> None:
    settings = GatewaySettings(jwt_algorithms=["RS256"], jwks_url="file:///etc/passwd")
    with pytest.raises(ValueError, match="jwks_url"):
        TokenVerifier(settings)
