"""Subject building: ids can never add tokens or wildcards to a subject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import subjects
from contracts.ids import message_id, parse_message_id
from contracts.rooms import Room
from contracts.tokens import decode_token, encode_token

ids = st.text(min_size=1, max_size=64)


@given(ids)
def test_encoded_token_has_no_subject_syntax(value: str) -> None:
    token = encode_token(value)
    assert token
    assert not any(c in token for c in ".*> \t\r\n")
    assert token.isascii()


@given(ids, ids)
def test_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert encode_token(a) != encode_token(b)


@given(ids)
def test_encoding_round_trips(value: str) -> None:
    assert decode_token(encode_token(value)) == value


def test_plain_ids_stay_readable() -> None:
    assert encode_token("alice_01-x") == "alice_01-x"
    assert encode_token("a.b") == "a~2eb"
    assert encode_token("~") == "~7e"


@pytest.mark.parametrize("bad", ["", "x" * 257])
def test_empty_or_huge_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="id"):
        encode_token(bad)


def test_injection_attempts_stay_in_one_token() -> None:
    subject = subjects.deliver_user("acme", "bob.>")
    assert subject.count(".") == subjects.deliver_user("acme", "bob").count(".")
    assert ">" not in subject and "*" not in subject


def test_every_subject_carries_the_versioned_prefix() -> None:
    built = [
        subjects.chat_send(),
        subjects.directory_register(),
        subjects.tenant_settings_set(),
        subjects.deliver_user("t", "u"),
        subjects.deliver_tenant("t"),
        subjects.deliver_role("r"),
        subjects.deliver_manage(),
        subjects.log_dm("t", "a", "b"),
    ]
    assert all(s.startswith(f"{subjects.PREFIX}.") for s in built)


def test_rooms_of_two_tenants_never_share_a_subject() -> None:
    assert Room.user("t1", "bob").name == Room.user("t2", "bob").name == "user:bob"
    assert Room.user("t1", "bob").subject != Room.user("t2", "bob").subject
    assert Room.tenant_admins("acme").name == "tenant:acme:admins"
    assert Room.tenant_role("acme", "admin").name == "tenant:acme:role:admin"


def test_log_filters_match_both_directions() -> None:
    sent, received = subjects.log_dm_of_user("acme", "bob")
    assert sent.endswith(".dm.bob.*") and received.endswith(".dm.*.bob")


@given(st.integers(0, 2**32), st.integers(1, 2**50), st.integers(1, 2**50))
def test_message_ids_sort_by_sequence(epoch: int, a: int, b: int) -> None:
    ia, ib = message_id(epoch, a), message_id(epoch, b)
    assert (ia < ib) == (a < b)
    assert parse_message_id(ia) == (epoch, a)
