"""Property-based fuzzing of a real gateway with hostile frames and event payloads.

Two gateway processes and a rooms service: a hostile raw WebSocket client sends to
the target gateway; a control pair keeps exchanging direct messages from the other
gateway to a user on the target. After each test: every event with an ack id was
acked with a protocol code (never `INTERNAL`) or the connection was closed; no
traceback in any gateway's output; the control pair never failed; the target's
sessions and memory came back near their baseline.

Size: `ROOMCAST_HOSTILE_EXAMPLES` examples per test (default 200). A long run:
`ROOMCAST_HOSTILE_EXAMPLES=5000 python3 run.py test tests/hostile/test_fuzz.py -s`
(the summary line of each test gives the figures).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.sioclient import RawClient
from tests.clients import Client, connect, token, unique
from tests.hostile.strategies import EVENTS, event_arrays, payloads, raw_frames
from tests.hostile.support import ACK_CODES, EXAMPLES, LoopThread, rss_kib, statz
from tests.servers import ServiceProcess
from tests.stack import Stack

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROBE = '["fuzz:probe",{}]'
NAMESPACES = ("/tenant", "/")
RSS_GROWTH_LIMIT_KIB = 64 * 1024


@dataclass
class Arena:
    """The processes, the hostile client and the control pair; lives on `loop`."""

    loop: LoopThread
    target: ServiceProcess
    other: ServiceProcess
    hostile: RawClient | None = None
    users: Iterator[int] = field(default_factory=itertools.count)
    tenant: str = field(default_factory=lambda: unique("fuzz"))
    inputs: int = 0
    closes: int = 0
    exchanged: int = 0
    hosted: int = 0
    control_failures: list[str] = field(default_factory=list)
    _control: asyncio.Task[None] | None = None
    _clients: list[Client] = field(default_factory=list)

    @property
    def gateways(self) -> tuple[ServiceProcess, ServiceProcess]:
        return self.target, self.other

    async def start(self) -> None:
        t = unique("control")
        sender = await connect(self.other.url, token("ctl-a", t))
        receiver = await connect(self.target.url, token("ctl-b", t))
        self._clients += [sender, receiver]
        self._control = asyncio.create_task(self._exchange(sender, receiver))
        while self.exchanged < 3 and not self.control_failures:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def _exchange(self, sender: Client, receiver: Client) -> None:
        for n in itertools.count():
            try:
                ack = await sender.call("chat:send", {"to": "ctl-b", "body": f"dm {n}"})
                if not ack.get("ok"):
                    self.control_failures.append(f"dm {n}: {ack}")
                    continue
                await receiver.wait_for("chat:message", _with_id(ack["id"]))
                receiver.events.clear()
                self.exchanged += 1
            except Exception as exc:
                self.control_failures.append(f"dm {n}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._control is not None:
            self._control.cancel()
        await self._drop_hostile()
        await asyncio.gather(*(c.close() for c in self._clients))

    async def _hostile(self) -> RawClient:
        """The hostile client, connected again when closed; on `/tenant` or `/` in turn."""
        if self.hostile is None or self.hostile.closed:
            await self._drop_hostile()
            n = next(self.users)
            tok = token(f"evil{n}", self.tenant)
            self.hostile = RawClient(self.target.url, tok, namespace=NAMESPACES[n % 2])
            await self.hostile.connect()
        return self.hostile

    async def _drop_hostile(self) -> None:
        if self.hostile is not None:
            self.closes += 1
            await self.hostile.close()
            self.hostile = None

    async def event(self, array: str) -> str | None:
        """Send one event with an ack id: acked with a protocol code, or closed.

        Returns what went wrong, or None. Text starting with a digit would run into
        the ack id on the wire, and on `/` text starting with `-` would turn the id
        into an attachment count: such text is sent as a raw frame instead.
        """
        self.inputs += 1
        if array[:1].isdigit() or array[:1] == "-":
            client = await self._hostile()
            return await self._frame(f"{client.event_prefix}{array}")
        return await self._event(array)

    async def frame(self, frame: str | bytes) -> str | None:
        """Send one raw frame, then a probe event: acked with a protocol code, or closed."""
        self.inputs += 1
        return await self._frame(frame)

    async def _frame(self, frame: str | bytes) -> str | None:
        client = await self._hostile()
        if await client.send_frame(frame):
            return await self._event(PROBE)
        return None

    async def _event(self, array: str) -> str | None:
        client = await self._hostile()
        try:
            ack = await asyncio.wait_for(client.call_frame(array), 10)
        except ConnectionError:
            return None
        except TimeoutError:
            await self._drop_hostile()
            return "no ack, and the connection is still open"
        if _code(ack) == "UNAUTHENTICATED":
            await self._drop_hostile()
        if (isinstance(ack, dict) and ack.get("ok") is True) or _code(ack) in ACK_CODES:
            return None
        return f"ack {ack!r:.300}"


def _with_id(message_id: str) -> Callable[[Any], bool]:
    return lambda message: bool(message["id"] == message_id)


def _code(ack: Any) -> Any:
    try:
        return ack["error"]["code"]
    except (KeyError, TypeError):
        return None


@pytest.fixture(scope="module")
def arena(stack_factory: Stack) -> Iterator[Arena]:
    stack_factory.start("rooms")
    unlimited = {"ROOMCAST_RATE_LIMIT_PER_SEC": "100000", "ROOMCAST_RATE_LIMIT_BURST": "100000"}
    target = stack_factory.start("gateway", unlimited, instance="gw-fuzz-target")
    other = stack_factory.start("gateway", instance="gw-fuzz-other")
    loop = LoopThread()
    a = Arena(loop, target, other)
    loop.run(a.start())
    a.hosted = statz(target)["hosted_subjects"]
    yield a
    loop.run(a.stop())
    loop.stop()


def _fuzz(arena: Arena, name: str, send: Any) -> None:
    """Run `send` (a hypothesis test) and check what must hold afterwards."""
    baseline = rss_kib(arena.target.pid)
    log_before = {gw.instance: len(gw.output()) for gw in arena.gateways}
    inputs, exchanged, closes = arena.inputs, arena.exchanged, arena.closes
    before = statz(arena.target)
    send()
    arena.loop.run(arena._drop_hostile())
    settled = _settled(arena.target, {"sessions": 1, "hosted_subjects": arena.hosted})
    logged = {gw.instance: gw.output()[log_before[gw.instance] :] for gw in arena.gateways}
    growth = rss_kib(arena.target.pid) - baseline
    counters = defaultdict(int, statz(arena.target))
    sent = arena.inputs - inputs
    print(
        f"\n{name}: {sent} inputs, {arena.closes - closes} reconnections, "
        f"{counters['frames_refused'] - before.get('frames_refused', 0)} frames refused, "
        f"{counters['closed_for_bad_frames'] - before.get('closed_for_bad_frames', 0)} "
        f"closed for bad frames, {counters['library_errors']} library errors, "
        f"{sum(t.count('Traceback') for t in logged.values())} tracebacks, "
        f"{arena.exchanged - exchanged} control DMs, {len(arena.control_failures)} failed, "
        f"{len(logged[arena.target.instance]) / max(sent, 1):.1f} log bytes per input, "
        f"RSS {baseline} -> {baseline + growth} KiB, "
        f"sessions {counters['sessions']}, hosted subjects {counters['hosted_subjects']} "
        f"(control only: 1, {arena.hosted})"
    )
    for instance, text in logged.items():
        assert "Traceback" not in text, f"{instance}:\n{text[-3000:]}"
    assert counters["library_errors"] == 0
    assert arena.control_failures == [], arena.control_failures[:10]
    assert arena.exchanged > exchanged, "the control pair exchanged nothing"
    assert settled, "sessions or hosted subjects of closed sockets left on the target"
    assert growth < RSS_GROWTH_LIMIT_KIB, f"RSS grew by {growth} KiB"


def _settled(gw: ServiceProcess, expected: dict[str, int], tries: int = 100) -> bool:
    """Whether the gateway's counters reach `expected` (polled, as disconnects finish)."""
    for _ in range(tries):
        counters = statz(gw)
        if all(counters[k] == v for k, v in expected.items()):
            return True
        time.sleep(0.05)
    return False


def test_event_payloads(arena: Arena) -> None:
    @FUZZ
    @given(event=st.sampled_from(EVENTS), payload=payloads)
    def send(event: str, payload: str) -> None:
        assert arena.loop.run(arena.event(f'["{event}",{payload}]')) is None

    _fuzz(arena, "event payloads", send)


def test_event_arrays(arena: Arena) -> None:
    @FUZZ
    @given(array=event_arrays())
    def send(array: str) -> None:
        assert arena.loop.run(arena.event(array)) is None

    _fuzz(arena, "event arrays", send)


def test_raw_frames(arena: Arena) -> None:
    @FUZZ
    @given(frame=raw_frames)
    def send(frame: str | bytes) -> None:
        assert arena.loop.run(arena.frame(frame)) is None

    _fuzz(arena, "raw frames", send)
