"""The allow-list of forwarded client events, and the disconnect contract."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import subjects
from contracts.client_events import ForwardedEvent, check_patterns, forwardable
from contracts.sessions import DisconnectUser
from services.gateway.settings import GatewaySettings

SECRET = "s" * 32


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("progress:video", True),
        ("progress:", True),
        ("quiz:answer", True),
        ("quiz:answers", False),
        ("Progress:video", False),
        ("chat:send", False),
        ("notification:read", False),
        ("Session:ended", False),
        ("disconnect", False),
        ("", False),
        ("progress:" + "x" * 100, False),
        ("progress:a b", False),
    ],
)
def test_forwardable(event: str, expected: bool) -> None:
    assert forwardable(event, ("progress:*", "quiz:answer")) is expected


def test_a_catch_all_never_reaches_protocol_names() -> None:
    assert forwardable("course:updated", ("*",))
    assert not forwardable("room:send", ("*",))
    assert not forwardable("auth:refresh", ("*",))
    assert not forwardable("anything", ())


@pytest.mark.parametrize("pattern", ["chat:*", "notification:read", "", " progress:*", "auth:x"])
def test_patterns_naming_only_protocol_events_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"protocol|pattern"):
        check_patterns([pattern])
    with pytest.raises(ValidationError):
        GatewaySettings(jwt_secret=SECRET, forward_events=[pattern])


def test_settings_read_the_allow_list() -> None:
    settings = GatewaySettings(jwt_secret=SECRET, forward_events="progress:*,quiz:answer")  # type: ignore[arg-type]
    assert settings.forward_events == ["progress:*", "quiz:answer"]
    assert GatewaySettings(jwt_secret=SECRET).forward_events == []


def test_the_envelope_and_its_subject() -> None:
    event = ForwardedEvent.model_validate(
        {
            "tenant": "t",
            "userId": "u",
            "role": "member",
            "event": "progress:video",
            "data": {"p": 1},
            "ts": 1,
        }
    )
    assert event.model_dump(by_alias=True)["userId"] == "u"
    subject = subjects.client_event("t", "progress:video")
    assert subject == "roomcast.v1.client.t.progress~3avideo"
    assert subjects.client_events_of("progress:video") == "roomcast.v1.client.*.progress~3avideo"


def test_a_disconnect_reason_is_a_short_code() -> None:
    assert DisconnectUser(tenant="t", user_id="u").reason == "disconnected"
    with pytest.raises(ValidationError):
        DisconnectUser(tenant="t", user_id="u", reason="two words")
    with pytest.raises(ValidationError):
        DisconnectUser(tenant="t", user_id="u", reason="x" * 65)
