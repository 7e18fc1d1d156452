"""Recipients on a gateway whose own NATS node hangs, then is SIGKILLed mid-traffic
(three-node cluster, streams R3, services as separate processes); that node is a
follower of the message log, or its leader.

The deliveries published while that gateway reconnects to another node are lost by
core NATS; the gateway resyncs its sockets from the message log after the reconnect
(`services/gateway/resync.py`). Senders and the services stay on surviving nodes and
keep sending direct messages and explicit-room messages throughout. What is checked,
for recipients that never reconnect (their clients do not even try):

- every acknowledged message reaches each of its online recipients exactly once;
- each recipient gets each sender's messages in log order (`seq` increasing), live
  and replayed alike (messages of different senders may be published, hence
  delivered, in either order);
- the recipients' sockets stay connected, and the gateway reports the outage and
  the messages it replayed (so the test did exercise the gap);
- messages sent after the kill reach the recipients within `RESUME_BOUND` seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from contracts import endpoints as e
from contracts import subjects
from contracts.identity import Identity
from roomcast.migrations import upgrade
from roomcast.platform import bus
from tests.clients import Client, connect, http_get, token, unique
from tests.cluster_support import jetstream_ready, peers_ready, replicated, running_cluster
from tests.integration.test_cluster_ledger import kill
from tests.persistence_support import eventually
from tests.stack import Stack, base_env

PAIRS = 6
PAUSE = 0.02
"""Seconds between one sender's messages."""
BEFORE, AFTER = 0.8, 1.0
"""Seconds of traffic before the node hangs, and after every sender had a send
acknowledged again."""
HANG = 1.0
"""Seconds the gateway's node hangs (SIGSTOP) before it is SIGKILLed."""
RESUME_BOUND = 20.0
"""Seconds from the node's hang until a message sent after it reaches its recipient:
the hang, the reconnect, a JetStream election when the node led the log (sends fail
meanwhile), and the resync (docs/deploy.md, "NATS failover"; ~1-12 s measured)."""


async def make_room(nc: Any, tenant: str, slug: str, members: list[str]) -> None:
    admin = Identity(tenant=tenant, user_id="admin", role="admin")
    create = e.ROOM_CREATE.request(identity=admin, tenant=tenant, name=slug.title(), slug=slug)
    assert (await bus.request(nc, e.ROOM_CREATE, create, wait=10)).ok
    for user in members:
        add = e.ROOM_MEMBER_ADD.request(identity=admin, tenant=tenant, room=slug, user_id=user)
        assert (await bus.request(nc, e.ROOM_MEMBER_ADD, add, wait=10)).ok


async def attempt(client: Client, event: str, body: dict[str, Any]) -> dict[str, Any]:
    """A send's ack; `{}` when it timed out (not acknowledged: nothing is expected)."""
    try:
        return dict(await client.call(event, body, timeout=10))
    except TimeoutError:
        return {}


def seqs_by_sender(client: Client, acked: set[str]) -> dict[str, list[int]]:
    """Per sender, the `seq`s of its acknowledged messages in the order the client got
    them (a send that timed out may still be logged, and delivered, late)."""
    got: dict[str, list[int]] = {}
    for event, data in client.events:
        if event in ("chat:message", "room:message") and data["id"] in acked:
            got.setdefault(f"{event} from {data['from']}", []).append(data["seq"])
    return got


async def log_leader(nc: Any, js: JetStreamContext, avoid: int) -> int:
    """The index of the node leading the message log, moved off node `avoid`."""
    while True:
        await replicated(js, subjects.LOG_STREAM, peers=2)
        cluster = (await js.stream_info(subjects.LOG_STREAM)).cluster
        assert cluster is not None and cluster.leader
        leader = int(cluster.leader.rsplit("-", 1)[1])
        if leader != avoid:
            return leader
        await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{subjects.LOG_STREAM}", b"", timeout=10)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("doomed_role", ["follower", "log leader"])
async def test_recipients_of_a_gateway_whose_nats_node_dies_get_every_acked_message_once(
    tmp_path: Path, database_url: str, clients: list[Client], doomed_role: str
) -> None:
    await upgrade(database_url)
    with running_cluster(tmp_path / "nats") as nodes:
        nc = await nats.connect(nodes[0].url)
        await jetstream_ready(nc.jetstream())
        await peers_ready(nc.jetstream(timeout=10))
        env = {
            **base_env(nodes[0].url, database_url),
            "ROOMCAST_STREAM_REPLICAS": "3",
            "ROOMCAST_RATE_LIMIT_PER_SEC": "1000",
            "ROOMCAST_RATE_LIMIT_BURST": "1000",
        }
        stack = Stack(tmp_path, env)
        try:
            stack.start("rooms")
            stack.start("persistence")
            # the services and the senders stay on node 0; the recipients' node is a
            # follower of the message log, or its leader (then sends fail until JetStream
            # elects another, and the resync waits for the log as well)
            leader = await log_leader(nc, nc.jetstream(timeout=10), avoid=0)
            if doomed_role == "log leader":
                doomed = nodes[leader]
            else:
                doomed = next(n for i, n in enumerate(nodes) if i not in (0, leader))
            sending = stack.start("gateway")
            receiving = stack.start("gateway", {"ROOMCAST_NATS_URL": doomed.url})

            t = unique("failover")
            await make_room(nc, t, "crew", ["ann"] + [f"r{i}" for i in range(PAIRS)])
            recipients = [await connect(receiving.url, token(f"r{i}", t)) for i in range(PAIRS)]
            for r in recipients:
                assert (await r.call("room:join", {"room": "room:crew"}))["ok"] is True
            senders = [await connect(sending.url, token(f"s{i}", t)) for i in range(PAIRS)]
            ann = await connect(sending.url, token("ann", t))
            clients += [*recipients, *senders, ann]

            acked: dict[int, set[str]] = {i: set() for i in range(PAIRS)}
            room_acked: set[str] = set()
            sent_at: dict[str, float] = {}
            killed_at = 0.0

            stop = asyncio.Event()
            last_ok: dict[str, float] = {}

            async def send(name: str, client: Client, event: str, payload: dict[str, Any]) -> None:
                n = 0
                while not stop.is_set():
                    body = {**payload, "body": f"{name}-{n}", "clientId": f"{name}-{n}"}
                    started = time.monotonic()
                    ack = await attempt(client, event, body)
                    if ack.get("ok"):
                        (room_acked if event == "room:send" else acked[int(name[1:])]).add(
                            ack["id"]
                        )
                        sent_at[ack["id"]] = last_ok[name] = started
                    n += 1
                    await asyncio.sleep(PAUSE)

            async def first_delivery_after_kill() -> float:
                while True:
                    later = {m for m, at in sent_at.items() if at > killed_at}
                    for r in recipients:
                        if any(d.get("id") in later for _, d in r.events if isinstance(d, dict)):
                            return time.monotonic()
                    await asyncio.sleep(0.05)

            traffic = asyncio.gather(
                *(send(f"s{i}", s, "chat:send", {"to": f"r{i}"}) for i, s in enumerate(senders)),
                send("ann", ann, "room:send", {"room": "room:crew"}),
            )
            await asyncio.sleep(BEFORE)
            # the node hangs first (what is routed to it meanwhile is lost), then dies
            killed_at = time.monotonic()
            assert doomed.pid is not None
            os.kill(doomed.pid, signal.SIGSTOP)
            await asyncio.sleep(HANG)
            kill(doomed)
            resumed = asyncio.create_task(first_delivery_after_kill())
            # sends go on until every sender has had one acknowledged after the kill
            while len([at for at in last_ok.values() if at > killed_at]) < PAIRS + 1:
                assert time.monotonic() - killed_at < RESUME_BOUND, "sends never resumed"
                await asyncio.sleep(0.1)
            await asyncio.sleep(AFTER)
            stop.set()
            await traffic
            resumed_in = await asyncio.wait_for(resumed, RESUME_BOUND) - killed_at
            doomed.stop()
            assert resumed_in < RESUME_BOUND, resumed_in

            expected = {i: acked[i] | room_acked for i in range(PAIRS)}

            async def all_delivered() -> bool:
                return all(
                    expected[i]
                    <= {d["id"] for d in r.received("chat:message")}
                    | {d["id"] for d in r.received("room:message")}
                    for i, r in enumerate(recipients)
                )

            await eventually(all_delivered, 30, "every acked message delivered", receiving.output)
            assert all(r.sio.connected for r in recipients), "recipients keep their sockets"
            for i, r in enumerate(recipients):
                got = [d["id"] for ev in ("chat:message", "room:message") for d in r.received(ev)]
                assert len(got) == len(set(got)), f"r{i} got a message twice"
                assert set(got) == expected[i], f"r{i}: {set(got) ^ expected[i]}"
                for sender, order in seqs_by_sender(r, expected[i]).items():
                    assert order == sorted(order), f"r{i}: {sender} out of log order"
            resync_events = [ev for r in recipients for ev in r.received("session:recovered")]
            assert resync_events == [], receiving.output()

            _, stats = http_get(f"{receiving.health_url}/statz")
            assert stats["nats_outages"] >= 1, stats
            assert stats["sockets_resynced"] >= PAIRS, stats
            if doomed_role == "follower":
                # the log keeps taking messages while the node hangs: those routed to
                # it are lost, and only the resync can deliver them (a hung log leader
                # takes no message meanwhile, so there may be nothing to lose)
                assert stats["messages_resynced"] > 0, "no delivery was lost: gap not hit"

            print(
                f"{sum(len(v) for v in acked.values())} DMs and {len(room_acked)} room "
                f"messages acked; delivery resumed {resumed_in:.2f}s after the kill; "
                f"gateway stats {stats}"
            )
        finally:
            stack.stop()
            await nc.close()
