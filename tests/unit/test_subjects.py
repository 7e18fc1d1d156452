"""Subject building: ids can never add tokens or wildcards to a subject."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import subjects
from contracts.ids import message_id, parse_message_id
from contracts.rooms import Room
from contracts.tokens import HASHED_PREFIX, MAX_TOKEN_LENGTH, decode_token, encode_token

ids = st.text(min_size=1, max_size=64)
long_ids = st.text(min_size=1, max_size=400)


@given(long_ids)
def test_encoded_token_has_no_subject_syntax_and_is_bounded(value: str) -> None:
    token = encode_token(value)
    assert token
    assert not any(c in token for c in ".*> \t\r\n")
    assert token.isascii()
    assert len(token) <= MAX_TOKEN_LENGTH


@given(long_ids, long_ids)
def test_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert encode_token(a) != encode_token(b)


@given(ids)
def test_encoding_round_trips(value: str) -> None:
    token = encode_token(value)
    if not token.startswith(HASHED_PREFIX):
        assert decode_token(token) == value


def test_long_non_ascii_ids_are_hashed_to_a_short_token() -> None:
    emoji = "\U0001f600" * 256
    token = encode_token(emoji)
    assert token.startswith(HASHED_PREFIX) and len(token) == 54
    assert encode_token(emoji[:-1]) != token
    assert encode_token("x" * 255) == "x" * 255
    assert encode_token("x" * 256).startswith(HASHED_PREFIX)


def test_plain_ids_stay_readable() -> None:
    assert encode_token("alice_01-x") == "alice_01-x"
    assert encode_token("a.b") == "a~2eb"
    assert encode_token("~") == "~7e"


def test_empty_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="id"):
        encode_token("")


LONGEST_IDS = [
    "x" * 255,  # the longest plain user id: kept as is
    "\U0001f600" * 256,  # 1 KiB of UTF-8 (issue F1)
    "a." * 127 + "a",  # escapes grow right up to the hashing threshold
    ".~>*" * 10_000,  # longer than any bound: still one short token
]


NOT_ID_BUILDERS = {
    "log_kind": "parses a subject",
    "delivery_kind": "parses a subject",
    "jetstream_pull_next": "takes stream and consumer names from settings, not ids",
}


def _builders() -> list[tuple[str, Callable[..., object]]]:
    found = []
    for name, fn in inspect.getmembers(subjects, inspect.isfunction):
        if name in NOT_ID_BUILDERS or name.startswith("_"):
            continue
        if fn.__module__ == subjects.__name__:
            found.append((name, fn))
    return found


@pytest.mark.parametrize(("name", "builder"), _builders())
@pytest.mark.parametrize("value", LONGEST_IDS, ids=["ascii", "emoji", "escapes", "huge"])
def test_no_subject_exceeds_the_bound(
    name: str, builder: Callable[..., object], value: str
) -> None:
    params = inspect.signature(builder).parameters
    args = [value for p in params.values() if p.default is inspect.Parameter.empty]
    built = builder(*args)
    for subject in built if isinstance(built, list) else [built]:
        assert isinstance(subject, str)
        assert len(subject.encode()) <= subjects.MAX_SUBJECT_LENGTH, name


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
