"""Malformed frames, reserved event names and hostile `clientId`s (issue 8: F2, F3, F4, F6)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
import socketio

from bench.sioclient import RawClient
from tests.clients import Client, connect, token, unique
from tests.hostile.support import open_engineio, send_and_expect_close, statz
from tests.servers import ServiceProcess
from tests.stack import Stack

MAX_BAD_FRAMES = 10


@pytest.fixture(scope="module")
def edge(stack_factory: Stack) -> Iterator[dict[str, ServiceProcess]]:
    rooms = stack_factory.start("rooms")
    gw = stack_factory.start("gateway", instance="gw-refusals")
    limited = stack_factory.start(
        "gateway",
        {"ROOMCAST_RATE_LIMIT_PER_SEC": "0.5", "ROOMCAST_RATE_LIMIT_BURST": "5"},
        instance="gw-refusals-limited",
    )
    yield {"rooms": rooms, "gw": gw, "limited": limited}


@pytest.fixture
async def raw(edge: dict[str, ServiceProcess]) -> AsyncIterator[RawClient]:
    client = RawClient(edge["gw"].url, token("raw", unique("raw")))
    await client.connect()
    yield client
    await client.close()


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


async def test_garbage_without_a_namespace_closes_after_a_few_frames_without_tracebacks(
    edge: dict[str, ServiceProcess],
) -> None:
    gw = edge["gw"]
    before = statz(gw)["frames_refused"]
    log_before = len(gw.output())
    garbage_frames: list[str | bytes] = ["4x", "48", "", "x", "4[", "43/tenant,1[]", b"\x00\x01"]
    for garbage in garbage_frames:
        ws = await open_engineio(gw.url)
        await send_and_expect_close(ws, [garbage] * MAX_BAD_FRAMES)
    assert statz(gw)["frames_refused"] - before >= 7 * MAX_BAD_FRAMES
    logged = gw.output()[log_before:]
    assert "Traceback" not in logged
    assert len(logged) < 1000, logged


async def test_undecodable_events_are_acked_invalid_then_the_connection_closes(
    edge: dict[str, ServiceProcess], raw: RawClient
) -> None:
    payloads = [
        f'["chat:send",{_nested(1100)}]',
        f'["chat:send",{{"to":"x","body":"y","n":{"9" * 5000}}}]',
        '["chat:send",{"to":',
        "{}",
        "[]",
    ]
    for payload in payloads:
        ack = await raw.call_frame(payload)
        assert ack["error"]["code"] == "INVALID", (payload[:40], ack)
    for _ in range(MAX_BAD_FRAMES - len(payloads)):
        ack = await raw.call_frame("[")
        assert ack["error"]["code"] == "INVALID"
    with pytest.raises(ConnectionError):
        await raw.call_frame("[")
    assert "Traceback" not in edge["gw"].output()


async def test_fewer_bad_frames_than_the_limit_leave_the_connection_serving(raw: RawClient) -> None:
    for _ in range(MAX_BAD_FRAMES - 1):
        await raw.call_frame("[")
    ack = await raw.call("chat:send", {"to": "raw", "body": "still here"})
    assert ack["ok"], ack


@pytest.mark.parametrize(
    "client_id",
    [
        pytest.param(_nested(600, '"k"'), id="nested 600 deep"),
        pytest.param(json.dumps("k" * 60_000), id="60,000 characters"),
        pytest.param(json.dumps("k" * 129), id="129 characters"),
        pytest.param(json.dumps("a\nb"), id="control character"),
        pytest.param('{"x":1}', id="object"),
    ],
)
async def test_an_invalid_client_id_is_refused_and_never_echoed(
    raw: RawClient, client_id: str
) -> None:
    errors: list[object] = []
    raw.on_event = lambda event, data: errors.append(data) if event == "chat:error" else None
    ack = await raw.call_frame(f'["chat:send",{{"to":"raw","body":"hi","clientId":{client_id}}}]')
    assert ack["error"]["code"] == "INVALID"
    assert errors == [{**ack["error"], "clientId": None}]


async def test_a_valid_client_id_of_128_characters_is_accepted(
    edge: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    alice = await connect(edge["gw"].url, token("alice", unique("cid")))
    clients.append(alice)
    ack = await alice.call("chat:send", {"to": "alice", "body": "hi", "clientId": "é" * 128})
    assert ack["ok"], ack


@pytest.mark.parametrize("name", ["*", "connect", "disconnect", 7, None])
async def test_reserved_event_names_are_invalid_and_spend_the_senders_own_limit(
    edge: dict[str, ServiceProcess], name: object
) -> None:
    t = unique("star")
    victim = RawClient(edge["limited"].url, token("victim", t))
    sender = RawClient(edge["limited"].url, token("sender", t))
    await victim.connect()
    await sender.connect()
    try:
        acks = [await sender.call_frame(json.dumps([name, victim.sid])) for _ in range(8)]
        codes = [a["error"]["code"] for a in acks]
        assert codes[:5] == ["INVALID"] * 5, acks
        assert "RATE_LIMITED" in codes[5:], acks
        assert (await victim.call("chat:send", {"to": "victim", "body": "mine"}))["ok"]
        empty = await sender.call_frame(json.dumps([name, {}]))
        assert empty["error"]["code"] in {"INVALID", "RATE_LIMITED"}
    finally:
        await victim.close()
        await sender.close()
    assert "Traceback" not in edge["limited"].output()


@pytest.mark.parametrize("ack_id", ["9" * 20, "9" * 120])
async def test_an_ack_id_too_large_to_answer_closes_the_connection(
    edge: dict[str, ServiceProcess], ack_id: str
) -> None:
    client = RawClient(edge["gw"].url, token("big", unique("bigid")))
    await client.connect()
    try:
        assert await client.send_frame(f'42/tenant,{ack_id}["chat:send",{{}}]')
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(client.call_frame('["chat:send",{}]'), 10)
    finally:
        await client.close()


async def test_an_engineio_close_from_the_client_ends_the_websocket(
    edge: dict[str, ServiceProcess],
) -> None:
    client = RawClient(edge["gw"].url, token("bye", unique("close")))
    await client.connect()
    try:
        assert await client.send_frame("1")
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(client.call_frame('["chat:send",{}]'), 10)
    finally:
        await client.close()


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_long_polling_and_the_upgrade_to_websocket_still_work(
    edge: dict[str, ServiceProcess], transports: list[str]
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        edge["gw"].url,
        auth={"token": token("poll", unique("poll"))},
        namespaces=["/tenant"],
        transports=transports,
        wait_timeout=10,
    )
    try:
        for n in range(3):
            ack = await client.call("chat:send", {"to": "poll", "body": f"n{n}"}, "/tenant", 10)
            assert ack["ok"], ack
        assert client.transport() == transports[-1]
    finally:
        await client.disconnect()


def _polling(url: str, sid: str = "", body: bytes | None = None) -> bytes:
    query = f"EIO=4&transport=polling{f'&sid={sid}' if sid else ''}"
    request = urllib.request.Request(f"{url}/socket.io/?{query}", data=body)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        return bytes(resp.read())


async def test_long_polling_garbage_is_counted_without_tracebacks(
    edge: dict[str, ServiceProcess],
) -> None:
    gw = edge["gw"]
    opened = _polling(gw.url)
    sid = json.loads(opened[1:])["sid"]
    before = statz(gw)
    log_before = len(gw.output())
    for body in [b"x", b"b!!", b"4\x1e\x1e", b"\xff\xfe", b"4[" + b"[" * 2000]:
        with contextlib.suppress(urllib.error.HTTPError):
            _polling(gw.url, sid, body)
    after = statz(gw)
    refused = after["frames_refused"] - before["frames_refused"]
    library = after["library_errors"] - before["library_errors"]
    assert refused + library >= 5
    logged = gw.output()[log_before:]
    assert "Traceback" not in logged, logged


async def test_a_long_polling_session_that_keeps_posting_garbage_is_closed(
    edge: dict[str, ServiceProcess],
) -> None:
    gw = edge["gw"]
    sid = json.loads(_polling(gw.url)[1:])["sid"]
    before = statz(gw)
    for _ in range(MAX_BAD_FRAMES):
        with contextlib.suppress(urllib.error.HTTPError):
            _polling(gw.url, sid, b"x")  # not an Engine.IO payload
    with pytest.raises(urllib.error.HTTPError) as closed:
        _polling(gw.url, sid, b"x")
    assert closed.value.code == 400
    assert statz(gw)["closed_for_bad_frames"] == before["closed_for_bad_frames"] + 1
    assert "Traceback" not in gw.output()


async def test_empty_frames_on_the_root_namespace_are_refused_without_tracebacks(
    edge: dict[str, ServiceProcess],
) -> None:
    client = RawClient(edge["gw"].url, token("root", unique("root")), namespace="/")
    await client.connect()
    log_before = len(edge["gw"].output())
    before = statz(edge["gw"])
    try:
        for frame in ["4", b"", "", "4"]:
            assert await client.send_frame(frame)
        ack = await client.call("chat:send", {"to": "root", "body": "still here"})
        assert ack["ok"], ack
    finally:
        await client.close()
    assert "Traceback" not in edge["gw"].output()[log_before:]
    after = statz(edge["gw"])
    assert after["library_errors"] == before["library_errors"]
    assert after["frames_refused"] - before["frames_refused"] >= 4
