"""Hypothesis strategies for hostile clients: event payloads and raw frames, as text.

Payloads are built as JSON *text*, so that they can be what no encoder would write:
nesting beyond 1,024 levels, integers of thousands of digits, invalid JSON.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from contracts.events import CLIENT_EVENTS

EVENTS = [event.name for event in CLIENT_EVENTS]
"""Every client event of the protocol."""

ODD_NAMES = ["*", "connect", "disconnect", "connect_error", "", "chat:nope", "chat:message"]

FIELDS = [
    "to",
    "body",
    "clientId",
    "tenant",
    "with",
    "room",
    "before",
    "limit",
    "token",
    "id",
    "ids",
    "all",
    "status",
    "kind",
    "data",
]
"""Field names the protocol's payloads use, so that fuzzing reaches past `extra=forbid`."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

hostile_json = st.one_of(
    json_values.map(json.dumps),
    st.integers(1, 1500).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 1500).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.integers(0, 70_000).map(lambda n: json.dumps("x" * n)),
    st.sampled_from(["NaN", "-Infinity", "1e999", "[", "{", '{"a"', '"\\ud800"', "tru", "[1,]"]),
    st.text(max_size=30),
)
"""JSON text of any value, or text that is not quite JSON."""


@st.composite
def _object(draw: st.DrawFn) -> str:
    keys = draw(st.lists(st.sampled_from(FIELDS) | st.text(max_size=8), max_size=5, unique=True))
    values = [draw(hostile_json) for _ in keys]
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in zip(keys, values, strict=True)) + "}"


payloads = st.one_of(_object(), hostile_json)
"""A payload: usually an object with protocol field names, else anything."""

event_names = st.one_of(
    st.sampled_from(EVENTS + ODD_NAMES).map(json.dumps),
    st.text(max_size=20).map(json.dumps),
    hostile_json,
)


@st.composite
def event_arrays(draw: st.DrawFn, names: st.SearchStrategy[str] = event_names) -> str:
    """The JSON array of an EVENT packet: `[name, payload, ...]`, or something near it."""
    name = draw(names)
    args = draw(st.lists(payloads, max_size=2))
    shape = draw(st.sampled_from(["array", "array", "array", "unclosed", "bare"]))
    if shape == "unclosed":
        return "[" + ",".join([name, *args])
    if shape == "bare":
        return name
    return "[" + ",".join([name, *args]) + "]"


PREFIXES = ["", "0", "2", "3", "4", "40", "41", "42", "43", "44", "45", "46", "48", "451-", "b"]
NAMESPACES = ["", "/tenant,", "/manage,", "/nope,", "/", "/tenant"]
ACK_IDS = ["", "1", "9" * 20, "-1", "٣"]

raw_frames = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.tuples(
        st.sampled_from(PREFIXES),
        st.sampled_from(NAMESPACES),
        st.sampled_from(ACK_IDS),
        st.one_of(event_arrays(), hostile_json),
    ).map("".join),
)
"""One WebSocket frame: Engine.IO and Socket.IO headers around hostile text, or noise."""
