"""The JWT attack matrix, end to end: real Socket.IO connects against real gateways.

Every row is a token (or a place to put it) that must be refused in the handshake
with `connect_error` code UNAUTHENTICATED, or FORBIDDEN for a valid token on a
namespace its role may not use; no row may put a traceback in a gateway's output.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.clients import AUDIENCE, SECRET, Client, connect_error
from tests.servers import ServiceProcess
from tests.stack import Stack

ISSUER = "https://idp.roomcast.test"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
PUBLIC_PEM = _KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


@pytest.fixture(scope="module")
def gateways(stack_factory: Stack) -> Iterator[dict[str, ServiceProcess]]:
    """An HS256 gateway and an RS256 one, both requiring the test audience and issuer."""
    stack_factory.start("rooms", instance="rooms-jwt")
    issuer = {"ROOMCAST_JWT_ISSUER": ISSUER}
    hs = stack_factory.start("gateway", issuer, instance="gw-jwt-hs")
    rs = stack_factory.start(
        "gateway",
        {
            **issuer,
            "ROOMCAST_JWT_ALGORITHMS": "RS256",
            "ROOMCAST_JWT_PUBLIC_KEY": PUBLIC_PEM.decode(),
            "ROOMCAST_JWT_SECRET": "",
        },
        instance="gw-jwt-rs",
    )
    yield {"hs": hs, "rs": rs}


@pytest.fixture(autouse=True)
def no_traceback(gateways: dict[str, ServiceProcess]) -> Iterator[None]:
    yield
    for gw in gateways.values():
        assert "Traceback" not in gw.output(), gw.output()


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "mallory",
        "tenant": "jwt-matrix",
        "role": "member",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    values.update(over)
    return {k: v for k, v in values.items() if v is not None}


def hs(**over: Any) -> str:
    return jwt.encode(claims(**over), SECRET, algorithm="HS256")


def rs(**over: Any) -> str:
    return jwt.encode(claims(**over), PRIVATE_PEM, algorithm="RS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(alg: str) -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims()).encode())}."


def hs_signed_with_public_key() -> str:
    """The classic confusion: HS256 keyed with the RS gateway's public PEM."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = f"{header}.{b64(json.dumps(claims()).encode())}"
    return f"{body}.{b64(hmac.new(PUBLIC_PEM, body.encode(), hashlib.sha256).digest())}"


Row = tuple[str, Callable[[], str]]

UNAUTHENTICATED_ROWS: dict[str, Row] = {
    "alg none": ("hs", lambda: unsigned("none")),
    "alg None": ("hs", lambda: unsigned("None")),
    "alg none on RS": ("rs", lambda: unsigned("none")),
    "RS token on the HS gateway": ("hs", rs),
    "HS token keyed with the public key": ("rs", hs_signed_with_public_key),
    "HS token on the RS gateway": ("rs", hs),
    "wrong HS key": ("hs", lambda: jwt.encode(claims(), "x" * 40, algorithm="HS256")),
    "wrong RS key": (
        "rs",
        lambda: jwt.encode(
            claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
        ),
    ),
    "expired": ("hs", lambda: hs(exp=int(time.time()) - 3600)),
    "nbf in the future": ("hs", lambda: hs(nbf=int(time.time()) + 3600)),
    "iat in the future": ("hs", lambda: hs(iat=int(time.time()) + 3600)),
    "missing exp": ("hs", lambda: hs(exp=None)),
    "exp as a numeric string": ("hs", lambda: hs(exp=str(int(time.time()) + 600))),
    "exp as text": ("hs", lambda: hs(exp="tomorrow")),
    "wrong aud": ("hs", lambda: hs(aud="someone-else")),
    "missing aud": ("hs", lambda: hs(aud=None)),
    "wrong iss": ("hs", lambda: hs(iss="https://evil.test")),
    "missing iss": ("rs", lambda: rs(iss=None)),
    "oversized": ("hs", lambda: hs(pad="x" * 20_000)),
    "garbage": ("hs", lambda: "not.a.jwt"),
    "garbage segments": ("hs", lambda: f"{b64(b'{')}.{b64(b'[')}.{b64(b'x')}"),
    "truncated": ("hs", lambda: hs()[:-10]),
    "user id over 255": ("hs", lambda: hs(sub="u" * 256)),
    "user id of 256 emoji": ("hs", lambda: hs(sub="\U0001f600" * 256)),
    "tenant over 128": ("hs", lambda: hs(tenant="t" * 129)),
    "role over 128": ("hs", lambda: hs(role="r" * 129)),
    "name over 256": ("hs", lambda: hs(name="n" * 257)),
    "control character in user id": ("hs", lambda: hs(sub="mal\nlory")),
    "control character in tenant": ("hs", lambda: hs(tenant="jwt\x00matrix")),
    "control character in role": ("hs", lambda: hs(role="member\x1b[31m")),
    "user id not a string": ("hs", lambda: hs(sub={"id": "mallory"})),
}


@pytest.mark.parametrize("row", sorted(UNAUTHENTICATED_ROWS))
async def test_refused_unauthenticated(gateways: dict[str, ServiceProcess], row: str) -> None:
    gateway, make = UNAUTHENTICATED_ROWS[row]
    err = await connect_error(gateways[gateway].url, auth={"token": make()})
    assert err["data"]["code"] == "UNAUTHENTICATED", err
    assert isinstance(err["message"], str) and err["message"]


def placed(source: str, url: str, tok: str) -> tuple[str, dict[str, Any]]:
    """Connect arguments that carry `tok` in one source (docs/protocol.md order)."""
    if source == "auth":
        return url, {"auth": {"token": tok}}
    if source == "header":
        return url, {"headers": {"Authorization": f"Bearer {tok}"}}
    if source == "query":
        return f"{url}?token={tok}", {}
    return url, {"headers": {"Cookie": f"theme=dark; access_token={tok}"}}


SOURCES = ["auth", "header", "query", "cookie"]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "bad", ["expired", "alg none", "wrong HS key", "control character in user id"]
)
async def test_each_source_refuses_a_bad_token(
    gateways: dict[str, ServiceProcess], source: str, bad: str
) -> None:
    url, kwargs = placed(source, gateways["hs"].url, UNAUTHENTICATED_ROWS[bad][1]())
    err = await connect_error(url, **kwargs)
    assert err["data"]["code"] == "UNAUTHENTICATED", err


@pytest.mark.parametrize("source", SOURCES)
async def test_each_source_accepts_a_good_token(
    gateways: dict[str, ServiceProcess], clients: list[Client], source: str
) -> None:
    """The control row: the refusals above are not a source that is never read."""
    url, kwargs = placed(source, gateways["hs"].url, hs(sub=f"ok-{source}"))
    client = await Client().connect(url, **kwargs)
    clients.append(client)
    assert client.sio.connected


FORBIDDEN_ROWS: dict[str, Row] = {
    "member on /manage": ("/manage", hs),
    "admin on /manage": ("/manage", lambda: hs(role="admin")),
    "super_admin on /tenant": ("/tenant", lambda: hs(role="super_admin")),
    "super_admin on /": ("/", lambda: hs(role="super_admin")),
    "unknown namespace": ("/admin", hs),
}


@pytest.mark.parametrize("row", sorted(FORBIDDEN_ROWS))
async def test_wrong_namespace_is_forbidden(gateways: dict[str, ServiceProcess], row: str) -> None:
    namespace, make = FORBIDDEN_ROWS[row]
    err = await connect_error(gateways["hs"].url, namespace, auth={"token": make()})
    assert err["data"]["code"] == "FORBIDDEN", err
