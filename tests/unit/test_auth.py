"""Token sources, HS* verification rules, claim mapping and namespace rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from typing import Any

import jwt
import pytest
from engineio.async_drivers.asgi import translate_request

from contracts.errors import ErrorCode
from services.gateway.auth import (
    MAX_TOKEN_LENGTH,
    AuthError,
    TokenVerifier,
    VerifiedToken,
    check_namespace,
    extract_token,
)
from services.gateway.settings import GatewaySettings

SECRET = "a-test-secret-of-at-least-32-bytes!!"
LONG_SECRET = SECRET * 2


def settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"jwt_secret": SECRET, "jwt_algorithms": ["HS256"]}
    values.update(overrides)
    return GatewaySettings(**values)


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sub": "u1",
        "tenant": "t1",
        "role": "member",
        "name": "Ann",
        "exp": int(time.time()) + 600,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def sign(payload: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=alg)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


async def refused(verifier: TokenVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert info.value.code is ErrorCode.UNAUTHENTICATED
    assert token not in info.value.message
    return info.value


# --- token sources -------------------------------------------------------------------

ALL_SOURCES: dict[str, str] = {
    "HTTP_AUTHORIZATION": "Bearer from-header",
    "QUERY_STRING": "EIO=4&transport=polling&token=from-query",
    "HTTP_COOKIE": "theme=dark; access_token=from-cookie",
}


def test_handshake_auth_wins_over_every_other_source() -> None:
    assert extract_token(ALL_SOURCES, {"token": "from-auth"}, "access_token") == "from-auth"


def test_header_wins_over_query_and_cookie() -> None:
    assert extract_token(ALL_SOURCES, None, "access_token") == "from-header"


def test_query_wins_over_cookie() -> None:
    environ = {k: v for k, v in ALL_SOURCES.items() if k != "HTTP_AUTHORIZATION"}
    assert extract_token(environ, None, "access_token") == "from-query"


def test_cookie_is_the_last_source() -> None:
    assert extract_token({"HTTP_COOKIE": ALL_SOURCES["HTTP_COOKIE"]}, {}, "access_token") == (
        "from-cookie"
    )


def test_no_source_gives_none() -> None:
    assert (
        extract_token({"QUERY_STRING": "EIO=4&transport=websocket"}, None, "access_token") is None
    )


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "from-auth",
        ["from-auth"],
        {"token": 123},
        {"token": None},
        {"token": ""},
        {"token": "   "},
        {"token": ["x"]},
        {"jwt": "from-auth"},
    ],
)
def test_garbage_handshake_auth_falls_through(auth: Any) -> None:
    assert extract_token(ALL_SOURCES, auth, "access_token") == "from-header"


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearer a b", "Bearer a,Bearer b", "from-header"],
)
def test_unusable_authorization_header_falls_through(header: str) -> None:
    environ = dict(ALL_SOURCES, HTTP_AUTHORIZATION=header)
    assert extract_token(environ, None, "access_token") == "from-query"


def test_bearer_scheme_is_case_insensitive() -> None:
    assert extract_token({"HTTP_AUTHORIZATION": "bearer  abc.def.ghi "}, None, "c") == "abc.def.ghi"


def test_query_token_is_url_decoded_and_first_non_empty_wins() -> None:
    environ = {"QUERY_STRING": "token=&token=a%2Eb.c&token=other"}
    assert extract_token(environ, None, "access_token") == "a.b.c"


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("access_token=tok", "tok"),
        ('a=1; access_token="tok"; b=2', "tok"),
        ("xaccess_token=evil; access_token=tok", "tok"),
        ("a=1,access_token=tok", "tok"),
        ("access_token=; access_token=tok", "tok"),
        ("access_token", None),
        ("other=tok", None),
    ],
)
def test_cookie_parsing(cookie: str, expected: str | None) -> None:
    assert extract_token({"HTTP_COOKIE": cookie}, None, "access_token") == expected


def test_cookie_name_is_configurable() -> None:
    environ = {"HTTP_COOKIE": "access_token=wrong; sid=right"}
    assert extract_token(environ, None, "sid") == "right"


def test_non_string_environ_values_are_ignored() -> None:
    environ = {"HTTP_AUTHORIZATION": b"Bearer x", "QUERY_STRING": None, "HTTP_COOKIE": 5}
    assert extract_token(environ, None, "access_token") is None


async def test_sources_as_engineio_asgi_builds_the_environ() -> None:
    scope = {
        "type": "websocket",
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=websocket&token=q",
        "headers": [
            (b"authorization", b"Bearer h"),
            (b"cookie", b"access_token=c"),
            (b"cookie", b"other=1"),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent")

    environ = await translate_request(scope, receive, send)
    assert environ["HTTP_COOKIE"] == "access_token=c,other=1"
    assert extract_token(environ, None, "access_token") == "h"
    del environ["HTTP_AUTHORIZATION"]
    assert extract_token(environ, None, "access_token") == "q"
    environ["QUERY_STRING"] = "EIO=4"
    assert extract_token(environ, None, "access_token") == "c"


# --- HS256 verification ----------------------------------------------------------------


async def test_valid_token_gives_identity_and_exp() -> None:
    exp = int(time.time()) + 600
    result = await TokenVerifier(settings()).verify(sign(claims(exp=exp)))
    assert isinstance(result, VerifiedToken)
    assert result.exp == exp
    assert result.identity.user_id == "u1"
    assert result.identity.tenant == "t1"
    assert result.identity.role == "member"
    assert result.identity.name == "Ann"


async def test_expired_token_is_refused() -> None:
    token = sign(claims(exp=int(time.time()) - 3600))
    assert "expired" in (await refused(TokenVerifier(settings()), token)).message


async def test_wrong_signature_is_refused() -> None:
    token = sign(claims(), secret="another-secret-of-at-least-32-bytes!")
    assert "signature" in (await refused(TokenVerifier(settings()), token)).message


async def test_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = f"{header}.{b64(json.dumps(claims(role='admin')).encode())}.{signature}"
    assert "signature" in (await refused(TokenVerifier(settings()), forged)).message


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(alg: str) -> None:
    token = hand_made({"alg": alg, "typ": "JWT"}, claims(), key=None)
    assert "algorithm" in (await refused(TokenVerifier(settings()), token)).message


async def test_algorithm_outside_the_pinned_list_is_refused() -> None:
    token = sign(claims(), secret=LONG_SECRET, alg="HS512")
    assert "algorithm" in (await refused(TokenVerifier(settings()), token)).message


async def test_several_pinned_hs_algorithms_each_verify() -> None:
    verifier = TokenVerifier(settings(jwt_secret=LONG_SECRET, jwt_algorithms=["HS256", "HS512"]))
    for alg in ("HS256", "HS512"):
        token = sign(claims(), secret=LONG_SECRET, alg=alg)
        assert (await verifier.verify(token)).identity.user_id == "u1"


async def test_missing_exp_is_refused() -> None:
    token = sign(claims(exp=None))
    assert "'exp'" in (await refused(TokenVerifier(settings()), token)).message


async def test_non_numeric_exp_is_refused() -> None:
    await refused(TokenVerifier(settings()), sign(claims(exp="soon")))


def _time_claim_cases() -> list[tuple[str, Any]]:
    now = int(time.time())
    cases: list[tuple[str, Any]] = []
    for claim, good in (("exp", now + 600), ("nbf", now - 60), ("iat", now - 60)):
        cases += [(claim, str(good)), (claim, f" {good} ")]
    return [*cases, ("nbf", True), ("iat", True)]


@pytest.mark.parametrize(("claim", "value"), _time_claim_cases())
async def test_time_claims_must_be_json_numbers(claim: str, value: Any) -> None:
    """PyJWT reads these claims with int(), which takes every one of these values."""
    error = await refused(TokenVerifier(settings()), sign(claims(**{claim: value})))
    assert f"{claim!r}" in error.message


async def test_fractional_time_claims_are_numbers_too() -> None:
    now = time.time()
    token = sign(claims(exp=now + 600.5, nbf=now - 0.5, iat=now - 0.5))
    assert (await TokenVerifier(settings()).verify(token)).exp == int(now + 600.5)


async def test_max_ttl_bounds_exp_minus_iat() -> None:
    now = int(time.time())
    verifier = TokenVerifier(settings(jwt_max_ttl=3600))
    assert (await verifier.verify(sign(claims(iat=now, exp=now + 3600)))).exp == now + 3600
    error = await refused(verifier, sign(claims(iat=now, exp=now + 3601)))
    assert "lifetime" in error.message
    old_token = sign(claims(iat=now - 86400, exp=now + 60))
    assert "lifetime" in (await refused(verifier, old_token)).message


async def test_max_ttl_requires_iat() -> None:
    verifier = TokenVerifier(settings(jwt_max_ttl=3600))
    assert "'iat'" in (await refused(verifier, sign(claims()))).message
    now = int(time.time())
    assert "'iat'" in (await refused(verifier, sign(claims(iat=str(now))))).message


async def test_no_max_ttl_by_default() -> None:
    now = int(time.time())
    token = sign(claims(exp=now + 10 * 365 * 86400))
    assert (await TokenVerifier(settings()).verify(token)).identity.user_id == "u1"


def test_max_ttl_may_not_be_negative() -> None:
    with pytest.raises(ValueError, match="jwt_max_ttl"):
        settings(jwt_max_ttl=-1)


async def test_audience_ignored_when_not_configured() -> None:
    result = await TokenVerifier(settings()).verify(sign(claims(aud="someone-else")))
    assert result.identity.user_id == "u1"


async def test_audience_checked_and_required_when_configured() -> None:
    verifier = TokenVerifier(settings(jwt_audience="roomcast"))
    assert (await verifier.verify(sign(claims(aud="roomcast")))).identity.user_id == "u1"
    assert (await verifier.verify(sign(claims(aud=["x", "roomcast"])))).identity.user_id == "u1"
    assert "audience" in (await refused(verifier, sign(claims(aud="other")))).message
    assert "'aud'" in (await refused(verifier, sign(claims()))).message


async def test_issuer_checked_and_required_when_configured() -> None:
    verifier = TokenVerifier(settings(jwt_issuer="https://idp.example"))
    assert (await verifier.verify(sign(claims(iss="https://idp.example")))).exp > 0
    assert "issuer" in (await refused(verifier, sign(claims(iss="https://evil.example")))).message
    assert "'iss'" in (await refused(verifier, sign(claims()))).message


async def test_issuer_ignored_when_not_configured() -> None:
    assert (await TokenVerifier(settings()).verify(sign(claims(iss="anyone")))).exp > 0


async def test_nbf_in_the_future_is_refused() -> None:
    token = sign(claims(nbf=int(time.time()) + 3600))
    assert "not valid yet" in (await refused(TokenVerifier(settings()), token)).message


async def test_leeway_is_honoured_for_exp_and_nbf() -> None:
    now = int(time.time())
    late = sign(claims(exp=now - 10))
    early = sign(claims(nbf=now + 10))
    lenient = TokenVerifier(settings(jwt_leeway=30))
    assert (await lenient.verify(late)).exp == now - 10
    assert (await lenient.verify(early)).identity.user_id == "u1"
    strict = TokenVerifier(settings(jwt_leeway=0))
    await refused(strict, late)
    await refused(strict, early)


async def test_integer_sub_is_not_refused_by_pyjwt() -> None:
    result = await TokenVerifier(settings()).verify(sign(claims(sub=42)))
    assert result.identity.user_id == "42"


async def test_oversized_token_is_refused_before_parsing() -> None:
    token = sign(claims(pad="x" * MAX_TOKEN_LENGTH))
    assert "malformed" in (await refused(TokenVerifier(settings()), token)).message


async def test_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(7)
    verifier = TokenVerifier(settings())
    valid = sign(claims())
    samples = [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        "ä.ö.ü",
        valid + ".",
        valid.replace(".", "", 1),
        hand_made({"alg": ["HS256"]}, claims(), SECRET.encode()),
        hand_made({"alg": "HS256", "kid": 5}, claims(), SECRET.encode()),
        hand_made({"alg": "HS256", "crit": ["exp"]}, claims(), SECRET.encode()),
        f"{b64(b'[]')}.{b64(b'{}')}.",
        f"{b64(json.dumps({'alg': 'HS256'}).encode())}.{b64(b'[1]')}.{b64(b'x')}",
        f"{b64(b'{' * 5000)}.e30.",
    ]
    samples += ["".join(chr(rng.randrange(0, 0x3000)) for _ in range(60)) for _ in range(50)]
    samples += [".".join(b64(rng.randbytes(30)) for _ in range(3)) for _ in range(50)]
    for token in samples:
        with pytest.raises(AuthError) as info:
            await verifier.verify(token)
        assert info.value.code is ErrorCode.UNAUTHENTICATED


# --- claims ----------------------------------------------------------------------------


async def test_seed_000_token_works_with_configuration_only() -> None:
    verifier = TokenVerifier(
        settings(jwt_claim_user="user", jwt_claim_role="rol", default_tenant="acme")
    )
    token = sign({"user": "u1", "name": "Ann", "rol": "admin", "exp": int(time.time()) + 60})
    identity = (await verifier.verify(token)).identity
    assert (identity.tenant, identity.user_id, identity.role, identity.name) == (
        "acme",
        "u1",
        "admin",
        "Ann",
    )
    assert identity.is_admin


async def test_missing_tenant_without_default_is_refused() -> None:
    error = await refused(TokenVerifier(settings()), sign(claims(tenant=None)))
    assert "'tenant'" in error.message


async def test_tenant_claim_wins_over_default_tenant() -> None:
    verifier = TokenVerifier(settings(default_tenant="acme"))
    assert (await verifier.verify(sign(claims(tenant="t9")))).identity.tenant == "t9"


async def test_custom_tenant_claim_and_integer_ids() -> None:
    verifier = TokenVerifier(settings(jwt_claim_tenant="tenantId", jwt_claim_user="userId"))
    token = sign(claims(sub=None, tenant=None, tenantId=7, userId=1234))
    identity = (await verifier.verify(token)).identity
    assert (identity.tenant, identity.user_id) == ("7", "1234")


async def test_missing_role_gets_default_role() -> None:
    verifier = TokenVerifier(settings(default_role="guest"))
    assert (await verifier.verify(sign(claims(role=None)))).identity.role == "guest"


async def test_missing_user_is_refused() -> None:
    assert "'sub'" in (await refused(TokenVerifier(settings()), sign(claims(sub=None)))).message


BOUNDS = {"sub": 255, "tenant": 128, "role": 128}


@pytest.mark.parametrize("claim", ["sub", "tenant", "role"])
@pytest.mark.parametrize(
    "value", ["", "a\nb", "a\x00", "\x7f", "a\x85", True, 1.5, ["u1"], {"id": "u1"}]
)
async def test_invalid_ids_are_refused(claim: str, value: Any) -> None:
    error = await refused(TokenVerifier(settings()), sign(claims(**{claim: value})))
    assert f"{claim!r}" in error.message


@pytest.mark.parametrize("claim", ["sub", "tenant", "role"])
async def test_ids_over_their_bound_are_refused_naming_the_claim(claim: str) -> None:
    limit = BOUNDS[claim]
    verifier = TokenVerifier(settings())
    for value in ("x" * (limit + 1), "\U0001f600" * (limit + 1)):
        error = await refused(verifier, sign(claims(**{claim: value})))
        assert f"{claim!r}" in error.message and str(limit) in error.message


async def test_longest_valid_ids_are_accepted() -> None:
    token = sign(claims(sub="\U0001f600" * 255, tenant="t" * 128, role="r" * 128))
    identity = (await TokenVerifier(settings()).verify(token)).identity
    assert (identity.user_id, identity.tenant) == ("\U0001f600" * 255, "t" * 128)


async def test_display_name_is_optional_and_bounded() -> None:
    verifier = TokenVerifier(settings(jwt_claim_name="display"))
    assert (await verifier.verify(sign(claims(display=None)))).identity.name is None
    assert (await verifier.verify(sign(claims(display=["x"])))).identity.name is None
    assert (await verifier.verify(sign(claims(display="n" * 256)))).identity.name == "n" * 256
    for bad in ("n" * 257, "tab\there"):
        error = await refused(verifier, sign(claims(display=bad)))
        assert "'display'" in error.message


def test_invalid_default_role_fails_at_start() -> None:
    with pytest.raises(ValueError, match="default_role"):
        TokenVerifier(settings(default_role="bad\nrole"))


# --- namespaces -------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["/", "/tenant"])
def test_tenant_namespaces_accept_ordinary_roles(namespace: str) -> None:
    for role in ("member", "admin", "anything"):
        check_namespace(namespace, role, settings())


@pytest.mark.parametrize("namespace", ["/", "/tenant"])
def test_tenant_namespaces_refuse_denied_roles(namespace: str) -> None:
    with pytest.raises(AuthError) as info:
        check_namespace(namespace, "super_admin", settings())
    assert info.value.code is ErrorCode.FORBIDDEN


def test_denied_roles_are_configurable() -> None:
    custom = settings(tenant_namespace_roles_denied=["bot"], manage_roles=["ops"])
    check_namespace("/tenant", "super_admin", custom)
    check_namespace("/manage", "ops", custom)
    with pytest.raises(AuthError) as info:
        check_namespace("/", "bot", custom)
    assert info.value.code is ErrorCode.FORBIDDEN


def test_manage_accepts_only_manage_roles() -> None:
    check_namespace("/manage", "super_admin", settings())
    for role in ("admin", "member"):
        with pytest.raises(AuthError) as info:
            check_namespace("/manage", role, settings())
        assert info.value.code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize("namespace", ["/admin", "/tenant/", "", "/Manage", "/chat"])
def test_unknown_namespaces_are_refused(namespace: str) -> None:
    with pytest.raises(AuthError) as info:
        check_namespace(namespace, "super_admin", settings())
    assert info.value.code is ErrorCode.FORBIDDEN


def test_auth_error_body_is_the_connect_error_data() -> None:
    body = AuthError("token has expired").body().model_dump(mode="json")
    assert body == {"code": "UNAUTHENTICATED", "message": "token has expired"}
