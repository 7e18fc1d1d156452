"""Pure parts of the HTTP API: statuses, origins, tokens, per-user buckets."""

from __future__ import annotations

import pytest

from contracts.errors import ErrorCode
from services.gateway.auth import extract_http_token
from services.gateway.http.errors import STATUS, describe, status_of
from services.gateway.http.origins import origin_allowed, same_origins
from services.gateway.limits import KeyedBuckets, TokenBucket


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.INVALID, 400),
        (ErrorCode.UNAUTHENTICATED, 401),
        (ErrorCode.FORBIDDEN, 403),
        (ErrorCode.NOT_FOUND, 404),
        (ErrorCode.CONFLICT, 409),
        (ErrorCode.TOO_LARGE, 413),
        (ErrorCode.RATE_LIMITED, 429),
        (ErrorCode.INTERNAL, 500),
        (ErrorCode.UNAVAILABLE, 503),
    ],
)
def test_each_error_code_has_its_status(code: ErrorCode, status: int) -> None:
    assert status_of(code) == status
    assert status_of(str(code)) == status


def test_every_error_code_is_mapped_and_unknown_ones_are_500() -> None:
    assert set(STATUS) == set(ErrorCode)
    assert status_of("SOMETHING_NEW") == 500


def test_validation_errors_are_described_by_place_and_reason() -> None:
    errors = [
        {"loc": ("body", "name"), "msg": "Field required"},
        {"loc": ("query", "limit"), "msg": "Input should be less than or equal to 200"},
        {"loc": (), "msg": "x"},
        {"loc": ("body",), "msg": "never shown"},
    ]
    assert describe(errors) == (
        "body.name: Field required; query.limit: Input should be less than or equal to 200; "
        "request: x"
    )
    assert describe([]) == "invalid request"


@pytest.mark.parametrize(
    ("origin", "configured", "allowed"),
    [
        ("http://chat.example:8000", [], True),
        ("http://evil.example", [], False),
        ("https://chat.example:8000", [], False),
        ("https://proxy.example", [], True),
        ("https://app.example", ["https://app.example"], True),
        ("http://chat.example:8000", ["https://app.example"], False),
        ("https://anything.example", ["*"], True),
        ("null", [], False),
    ],
)
def test_origins_follow_the_socket_side_rule(
    origin: str, configured: list[str], allowed: bool
) -> None:
    own = same_origins("http", "chat.example:8000", "https", "proxy.example")
    assert origin_allowed(origin, configured, own) is allowed


def test_same_origins_without_a_host_or_forwarding() -> None:
    assert same_origins("http", None, None, None) == []
    assert same_origins("https", "a.example", None, None) == ["https://a.example"]
    assert same_origins("http", "a.example", "https, http", None) == [
        "http://a.example",
        "https://a.example",
    ]


@pytest.mark.parametrize(
    ("authorization", "cookie", "found"),
    [
        ("Bearer abc.def.ghi", None, "abc.def.ghi"),
        ("bearer abc", "access_token=zzz", "abc"),
        (None, "other=1; access_token=zzz", "zzz"),
        ("Basic dXNlcjpwdw==", "access_token=zzz", "zzz"),
        ("Bearer a,b", None, None),
        ("Bearer ", None, None),
        (None, "token=zzz", None),
        (None, None, None),
    ],
)
def test_the_http_token_is_the_bearer_header_else_the_cookie(
    authorization: str | None, cookie: str | None, found: str | None
) -> None:
    assert extract_http_token(authorization, cookie, "access_token") == found


def test_a_bucket_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=0.5, burst=1, now=0.0)
    assert bucket.take(0.0) is True
    assert bucket.take(0.0) is False
    assert bucket.retry_after(0.0) == 2
    assert bucket.retry_after(1.5) == 1
    assert bucket.take(2.0) is True


def test_keyed_buckets_limit_each_key_alone() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=2)
    ann, bob = ("acme", "ann"), ("acme", "bob")
    assert [buckets.take(ann, 0.0) for _ in range(3)] == [0, 0, 1]
    assert buckets.take(bob, 0.0) == 0, "another user has their own budget"
    assert buckets.take(("other", "ann"), 0.0) == 0, "the same user id in another tenant too"
    assert buckets.take(ann, 1.0) == 0


def test_keyed_buckets_stay_bounded() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=1, max_keys=3)
    for i in range(3):
        buckets.take(("t", f"u{i}"), 0.0)
    buckets.take(("t", "u3"), 0.0)
    assert len(buckets) == 3, "the oldest key went when none had refilled"
    buckets.take(("t", "u4"), 10.0)
    assert len(buckets) == 1, "refilled buckets are forgotten first"
    assert buckets.take(("t", "u0"), 10.0) == 0
