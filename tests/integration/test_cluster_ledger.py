"""A ledger of direct messages through a three-node NATS cluster (streams R3) while a
NATS node is SIGKILLed and restarted, then while persistence is killed and
PostgreSQL restarted.

Every send is classified ok / error / unknown (no answer). What is checked:

- every acknowledged message reaches its online recipient, once;
- after the faults, a retry of every send with the same `clientId` succeeds and,
  for one that was acknowledged before, answers the same id;
- PostgreSQL ends up with exactly one row per message (`clientId`), none missing;
- the senders' sockets (their gateway's NATS node was killed) stay connected, and
  messaging resumes within `RESUME_BOUND` seconds of the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest

from contracts import subjects
from roomcast.dev.embedded import EmbeddedNats, EmbeddedPostgres
from roomcast.migrations import upgrade
from tests.clients import Client, connect, token, unique
from tests.cluster_support import jetstream_ready, peers_ready, replicated, running_cluster
from tests.persistence_support import eventually, stored
from tests.stack import Stack, base_env

PAIRS = 8
PER_PAIR = 250
RESUME_BOUND = 20.0
"""Seconds from the node kill to the first acknowledged send after it."""
OK, ERROR, UNKNOWN = "ok", "error", "unknown"


@dataclass
class Ledger:
    outcomes: dict[str, str] = field(default_factory=dict)
    """clientId → ok / error / unknown (the last attempt's)."""
    ids: dict[str, str] = field(default_factory=dict)
    """clientId → message id, for acknowledged sends."""
    recipient: dict[str, int] = field(default_factory=dict)
    ok_times: list[float] = field(default_factory=list)

    async def send(self, sender: Client, to: str, client_id: str, recipient: int) -> None:
        self.recipient[client_id] = recipient
        try:
            ack = await sender.call(
                "chat:send", {"to": to, "body": client_id, "clientId": client_id}, timeout=8
            )
        except TimeoutError:
            self.outcomes[client_id] = UNKNOWN
            return
        if ack.get("ok"):
            assert self.ids.get(client_id, ack["id"]) == ack["id"], "a retry changed the id"
            self.ids[client_id] = ack["id"]
            self.outcomes[client_id] = OK
            self.ok_times.append(time.monotonic())
        else:
            assert ack["error"]["code"] in {"UNAVAILABLE", "RATE_LIMITED"}, ack
            self.outcomes[client_id] = ERROR

    def summary(self) -> Counter[str]:
        return Counter(self.outcomes.values())


def kill(node: EmbeddedNats) -> None:
    assert node.pid is not None
    os.kill(node.pid, signal.SIGKILL)


async def log_leader(nodes: list[EmbeddedNats]) -> EmbeddedNats:
    """The node leading the message log's stream (rooms created it, R3)."""
    nc = await nats.connect(nodes[0].url)
    try:
        js = nc.jetstream(timeout=10)
        await replicated(js, subjects.LOG_STREAM, peers=2)
        info = await js.stream_info(subjects.LOG_STREAM)
        assert info.cluster is not None and info.cluster.leader
        return nodes[int(info.cluster.leader.rsplit("-", 1)[1])]
    finally:
        await nc.close()


@pytest.mark.timeout(300)
async def test_dm_ledger_through_node_and_database_faults(
    tmp_path: Path,
    embedded_postgres: Callable[..., EmbeddedPostgres],
    clients: list[Client],
) -> None:
    pg = embedded_postgres()
    await upgrade(pg.url)
    with running_cluster(tmp_path / "nats") as nodes:
        nc = await nats.connect(nodes[0].url)
        await jetstream_ready(nc.jetstream())
        await peers_ready(nc.jetstream(timeout=10))
        await nc.close()
        env = {
            **base_env(nodes[0].url, pg.url),
            "ROOMCAST_STREAM_REPLICAS": "3",
            "ROOMCAST_RATE_LIMIT_PER_SEC": "1000",
            "ROOMCAST_RATE_LIMIT_BURST": "1000",
        }
        stack = Stack(tmp_path, env)
        try:
            stack.start("rooms", {"ROOMCAST_NATS_URL": nodes[0].url})
            # The node to kill leads the message log, so JetStream must elect another.
            doomed = await log_leader(nodes)
            other = next(n for n in nodes if n is not doomed)
            persistence = stack.start("persistence", {"ROOMCAST_NATS_URL": other.url})
            receiving = stack.start("gateway", {"ROOMCAST_NATS_URL": other.url})
            sending = stack.start("gateway", {"ROOMCAST_NATS_URL": doomed.url})
            t = unique("ledger")
            recipients = [await connect(receiving.url, token(f"r{i}", t)) for i in range(PAIRS)]
            senders = [await connect(sending.url, token(f"s{i}", t)) for i in range(PAIRS)]
            clients += recipients + senders
            ledger = Ledger()

            async def pair(i: int, first: int, count: int) -> None:
                for n in range(first, first + count):
                    await ledger.send(senders[i], f"r{i}", f"p{i}-{n}", i)

            # Phase 1: the senders' NATS node dies and comes back.
            third = PER_PAIR // 3
            await asyncio.gather(*(pair(i, 0, third) for i in range(PAIRS)))
            killed_at = time.monotonic()
            kill(doomed)
            phase = asyncio.gather(*(pair(i, third, third) for i in range(PAIRS)))
            await asyncio.sleep(3)
            doomed.stop()
            doomed.start()
            await phase
            probe = 0
            while not any(t > killed_at for t in ledger.ok_times):
                assert time.monotonic() - killed_at < RESUME_BOUND, ledger.summary()
                await ledger.send(senders[0], "r0", f"probe-{probe}", 0)
                probe += 1
                await asyncio.sleep(0.1)
            resumed_in = min(t for t in ledger.ok_times if t > killed_at) - killed_at
            assert all(s.sio.connected for s in senders), "senders keep their sockets"

            # Phase 2: persistence killed and PostgreSQL restarted while sends go on.
            persistence.kill()
            pg.stop()
            rest = PER_PAIR - 2 * third
            phase = asyncio.gather(*(pair(i, 2 * third, rest) for i in range(PAIRS)))
            await asyncio.sleep(2)
            pg.start()
            persistence.start()
            await phase
            first_pass = ledger.summary()

            # Retry everything not acknowledged, with the same clientId, as a client would.
            for _ in range(3):
                pending = [c for c, o in ledger.outcomes.items() if o != OK]
                for client_id in pending:
                    i = ledger.recipient[client_id]
                    await ledger.send(senders[i], f"r{i}", client_id, i)
            assert set(ledger.outcomes.values()) == {OK}, ledger.summary()

            async def all_delivered() -> bool:
                got = {m["id"] for r in recipients for m in r.received("chat:message")}
                return set(ledger.ids.values()) <= got

            await eventually(all_delivered, 30, "every acked message delivered")
            for i, r in enumerate(recipients):
                ids = [m["id"] for m in r.received("chat:message")]
                assert len(ids) == len(set(ids)), f"r{i} got a message twice"
                mine = {v for c, v in ledger.ids.items() if ledger.recipient[c] == i}
                assert set(ids) == mine, f"r{i}: {len(set(ids) ^ mine)} unexpected or missing"

            async def all_stored() -> bool:
                return len(await stored(pg.url, t)) >= len(ledger.ids)

            await eventually(all_stored, 60, "every message stored", persistence.output)
            rows = await stored(pg.url, t)
            bodies = Counter(body for _, body in rows)
            assert max(bodies.values()) == 1, "a message was stored twice"
            assert set(bodies) == set(ledger.ids), "stored messages differ from the ledger"
            assert {row_id for row_id, _ in rows} == set(ledger.ids.values())
            print(
                f"first pass {dict(first_pass)}; {len(ledger.ids)} messages; "
                f"resumed {resumed_in:.2f}s after the node kill"
            )
        finally:
            stack.stop()
