"""The generated documents under docs/ match the code, and the declarations match the callers."""

from __future__ import annotations

import difflib
import inspect
import itertools

import orjson
import pytest

from contracts import endpoints, events, subjects
from contracts.errors import ErrorCode
from contracts.presence import OfflineReason, PresenceChange
from roomcast.dev import docsgen
from services.gateway import envelope
from services.gateway.handlers import HANDLERS
from services.gateway.settings import GatewaySettings
from services.presence.domain.changes import Change, outgoing


@pytest.mark.parametrize("path", sorted(docsgen.render()))
def test_committed_document_matches_the_code(path: str) -> None:
    committed = docsgen.ROOT / path
    assert committed.exists(), f"{path} is missing: run `{docsgen.REGENERATE}` and commit it"
    expected = docsgen.render()[path]
    actual = committed.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            actual.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""
        )
        shown = "\n".join(itertools.islice(diff, 40))
        pytest.fail(
            f"{path} is out of date with contracts/: run `{docsgen.REGENERATE}` and commit "
            f"it.\n{shown}",
            pytrace=False,
        )


def test_every_event_the_gateway_answers_is_documented() -> None:
    assert {e.name for e in events.CLIENT_EVENTS} == set(HANDLERS)


HELPERS = {
    "deliver_all",
    "log_all",
    "log_dm_of_user",
    "log_dm_of_tenant",
    "log_kind",
    "dead_letter_all",
    "entity_all",
    "client_event_all",
    "client_events_of",
    "jetstream_pull_next",
    "security_all",
    "delivery_kind",
}
"""Builders of wildcards, filters and JetStream API subjects, not of roomcast endpoints."""


def test_every_subject_builder_is_declared() -> None:
    builders = {
        name
        for name, fn in inspect.getmembers(subjects, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == subjects.__name__
    }
    declared_subjects = {e.subject for e in endpoints.ENDPOINTS} | {
        b.subject for b in endpoints.BROADCASTS
    }
    declared_builders = {d.build.__name__ for d in endpoints.DELIVERY_SUBJECTS} | {
        s.build.__name__ for s in endpoints.STREAM_SUBJECTS
    }
    declared_builders |= {b.build.__name__ for b in endpoints.BROADCASTS if b.build}
    declared_builders |= {e.build.__name__ for e in endpoints.ENDPOINTS if e.build is not None}
    undeclared = {
        name
        for name in builders - HELPERS - declared_builders
        if getattr(subjects, name)() not in declared_subjects
    }
    assert not undeclared, f"declare these subjects in contracts/endpoints.py: {undeclared}"


def test_declared_timeouts_are_the_callers() -> None:
    assert GatewaySettings.model_fields["request_timeout"].default == endpoints.REQUEST_TIMEOUT


def test_every_parameter_is_described() -> None:
    used = {p for d in endpoints.DELIVERY_SUBJECTS for p in d.parameters}
    used |= {p for s in endpoints.STREAM_SUBJECTS for p in s.parameters}
    used |= {p for b in endpoints.BROADCASTS for p in b.parameters}
    used |= {p for e in endpoints.ENDPOINTS for p in e.parameters}
    assert used <= set(endpoints.PARAMETERS)


def test_addresses_name_their_parameters() -> None:
    assert endpoints.DELIVER_USER.address() == "roomcast.v1.deliver.t.{tenant}.user.{userId}"
    assert endpoints.LOG_DM.address() == "roomcast.v1.log.{tenant}.dm.{from}.{to}"
    assert endpoints.SECURITY_EVENTS.subject == "roomcast.v1.security.{tenant}.{securityKind}"


def test_the_gateway_envelope_matches_the_ack_models() -> None:
    events.ErrorAck.model_validate(envelope.fail(ErrorCode.INVALID, "bad"))
    events.ChatSendAck.model_validate(envelope.ok(id="0" * 22, ts=1))
    events.OkAck.model_validate(envelope.ok())


def test_presence_deliveries_match_the_event_model() -> None:
    item = outgoing([Change("acme", "bob", OfflineReason.TIMEOUT)], ts=5)[0]
    body = orjson.loads(item.body)
    assert body == {"userId": "bob", "tenant": "acme", "ts": 5, "reason": "timeout"}
    assert PresenceChange.model_validate(body).reason is OfflineReason.TIMEOUT
