"""Log message → row, conversation keys and who may read what."""

from __future__ import annotations

import pytest

from contracts import subjects
from contracts.errors import ErrorCode, ServiceError
from contracts.history import HistoryQuery
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import LoggedMessage, LoggedRoomMessage
from services.persistence.domain.conversations import (
    AdminsRoom,
    Conversation,
    UserRoom,
    dm_key,
    history_target,
    participant,
    room_key,
)
from services.persistence.domain.records import COLUMNS, Invalid, to_row

ALICE = Identity(tenant="acme", user_id="alice", role="member", name="Alice")
EPOCH = 1_700_000_000


def logged(**changes: object) -> bytes:
    values: dict[str, object] = {
        "tenant": "acme",
        "sender": ALICE,
        "to": "bob",
        "body": "hi",
        "ts": 1_700_000_000_123,
        "client_id": "c-1",
        "supervised": True,
    }
    values.update(changes)
    return LoggedMessage.model_validate(values).model_dump_json().encode()


def room_logged(**changes: object) -> bytes:
    values: dict[str, object] = {
        "tenant": "acme",
        "sender": ALICE,
        "room": "event:42",
        "body": "hi all",
        "ts": 1_700_000_000_123,
        "client_id": "c-2",
    }
    values.update(changes)
    return LoggedRoomMessage.model_validate(values).model_dump_json().encode()


def test_a_room_message_becomes_one_row_keyed_by_the_room() -> None:
    row = to_row(subjects.log_room("acme", "event:42"), room_logged(), 43, EPOCH)
    assert not isinstance(row, Invalid)
    values = dict(zip(COLUMNS, row, strict=True))
    assert values["id"] == message_id(EPOCH, 43)
    assert (values["tenant_id"], values["seq"]) == ("acme", 43)
    assert values["conversation"] == room_key("event:42")
    assert (values["sender_id"], values["recipient_id"], values["room"]) == (
        "alice",
        None,
        "event:42",
    )
    assert (values["body"], values["client_id"], values["supervised"]) == ("hi all", "c-2", False)


def test_a_direct_message_becomes_one_row() -> None:
    row = to_row(subjects.log_dm("acme", "alice", "bob"), logged(), 42, EPOCH)
    assert not isinstance(row, Invalid)
    values = dict(zip(COLUMNS, row, strict=True))
    assert values["id"] == message_id(EPOCH, 42)
    assert values["seq"] == 42
    assert values["tenant_id"] == "acme"
    assert (values["sender_id"], values["recipient_id"]) == ("alice", "bob")
    assert values["conversation"] == dm_key(
        participant("acme", "alice"), participant("acme", "bob")
    )
    assert values["client_id"] == "c-1"
    assert values["supervised"] is True
    assert values["ts"] == 1_700_000_000_123


@pytest.mark.parametrize(
    ("subject", "data", "why"),
    [
        (subjects.log_dm("acme", "alice", "bob"), b"not json", "not a LoggedMessage"),
        (subjects.log_dm("acme", "alice", "bob"), b'{"tenant": "acme"}', "not a LoggedMessage"),
        ("roomcast.v1.log.acme.other.general", logged(), "unsupported log subject"),
        (subjects.log_room("acme", "room:general"), logged(), "not a LoggedRoomMessage"),
        (subjects.log_room("acme", "room:general"), room_logged(body="a\x00b"), "NUL"),
        (subjects.log_room("acme", "room:general"), room_logged(ts=-1), "bigint"),
        (subjects.log_dm("acme", "alice", "bob"), logged(body="a\x00b"), "NUL"),
        (subjects.log_dm("acme", "alice", "bob"), logged(ts=2**63), "bigint"),
    ],
)
def test_what_can_never_be_stored_says_why(subject: str, data: bytes, why: str) -> None:
    row = to_row(subject, data, 1, EPOCH)
    assert isinstance(row, Invalid)
    assert why in row.reason


def test_both_sides_share_a_conversation_key_and_nobody_else_does() -> None:
    a, b = participant("acme", "alice"), participant("acme", "bob")
    assert dm_key(a, b) == dm_key(b, a)
    assert dm_key(a, b) != dm_key(a, participant("acme", "carol"))
    # A super_admin from another tenant is not the tenant's own user with the same id.
    assert dm_key(participant("ops", "root"), b) != dm_key(participant("acme", "root"), b)
    # Separators cannot be forged through ids.
    assert dm_key(participant("a", "b|c"), participant("a", "d")) != dm_key(
        participant("a", "b"), participant("a", "c|d")
    )


def query(who: Identity, **fields: object) -> HistoryQuery:
    return HistoryQuery.model_validate({"requester": who, "tenant": who.tenant, **fields})


def test_history_of_a_direct_conversation_is_keyed_by_both_participants() -> None:
    target = history_target(query(ALICE, with_user="bob"))
    assert target == Conversation(
        "acme", dm_key(participant("acme", "alice"), participant("acme", "bob"))
    )


def test_history_rooms_a_user_may_read() -> None:
    assert history_target(query(ALICE, room="user:alice")) == UserRoom("acme", "alice")
    admin = Identity(tenant="acme", user_id="ann", role="admin")
    assert history_target(query(admin, room="tenant:acme:admins")) == AdminsRoom("acme")


@pytest.mark.parametrize(
    "fields",
    [
        {"room": "user:bob"},
        {"room": "tenant:acme:admins"},
        {"room": "tenant:acme"},
        {"tenant": "globex", "with_user": "bob"},
    ],
)
def test_history_refuses_what_the_requester_is_not_part_of(fields: dict[str, object]) -> None:
    with pytest.raises(ServiceError) as exc:
        history_target(query(ALICE, **fields))
    assert exc.value.code == ErrorCode.FORBIDDEN


def test_a_super_admin_reads_any_tenant_under_its_own_identity() -> None:
    root = Identity(tenant="ops", user_id="root", role="super_admin")
    target = history_target(HistoryQuery(requester=root, tenant="acme", with_user="bob"))
    assert target == Conversation(
        "acme", dm_key(participant("ops", "root"), participant("acme", "bob"))
    )
    assert history_target(
        HistoryQuery(requester=root, tenant="acme", room="tenant:acme:admins")
    ) == (AdminsRoom("acme"))
