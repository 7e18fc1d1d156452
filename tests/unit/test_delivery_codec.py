"""The delivery contract: payload as body, routing in headers."""

from __future__ import annotations

import time

import orjson
import pytest

from contracts import delivery


def test_round_trip() -> None:
    headers, body = delivery.encode(
        "chat:message", {"body": "hé"}, skip_sid="sid1", skip_subjects=["a.b", "c.d"]
    )
    item = delivery.decode(headers, body)
    assert item.event == "chat:message"
    assert orjson.loads(item.body) == {"body": "hé"}
    assert item.skip_sid == "sid1"
    assert item.skip_subjects == ("a.b", "c.d")


def test_optional_headers_are_omitted() -> None:
    headers, _ = delivery.encode("user:online", {})
    assert headers.keys() == {delivery.EVENT, delivery.PUBLISHED}
    assert delivery.decode(headers, b"{}").skip_subjects == ()


def test_the_publish_time_travels_and_a_bad_one_is_ignored() -> None:
    before = time.time()
    headers, body = delivery.encode("chat:message", {})
    published = delivery.decode(headers, body).published
    assert published is not None and before - 0.001 <= published <= time.time()
    bad = {**headers, delivery.PUBLISHED: "soon"}
    assert delivery.decode(bad, body).published is None
    assert delivery.decode({delivery.EVENT: "x"}, body).published is None


@pytest.mark.parametrize("headers", [None, {}, {delivery.EVENT: ""}])
def test_missing_event_is_refused(headers: dict[str, str] | None) -> None:
    with pytest.raises(ValueError, match="Rc-Event"):
        delivery.decode(headers, b"{}")


def test_keep_rides_only_on_a_revocation_of_everyone() -> None:
    keep = [("acme", "ann"), ("acme", "bob")]
    headers, body = delivery.encode("room:left", {"room": "room:x"}, revoke=[], keep=keep)
    item = delivery.decode(headers, body)
    assert item.revoke_all and item.keep_users == frozenset(keep)
    named, _ = delivery.encode("room:left", {}, revoke=[("acme", "eve")], keep=keep)
    assert delivery.KEEP not in named, "a revocation of named users keeps nobody else"
    stray = {**named, delivery.KEEP: '[["acme", "eve"]]'}
    assert delivery.decode(stray, b"{}").keep_users == frozenset()
