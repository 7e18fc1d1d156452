"""Interest-based delivery: subscribe to a room's subject only while hosting it.

The gateway keys its Socket.IO rooms by delivery subject (see `contracts.rooms`). The
first local socket that enters a room subscribes this gateway to the subject; the last
one to leave unsubscribes it, so NATS routes each delivery only to gateways that host
a recipient. Deliveries are framed for Socket.IO once per namespace, without decoding
the payload, and written straight into each socket's Engine.IO queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from engineio import packet as eio_packet
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import delivery
from services.gateway.delivered import Seen, logged_seq
from services.gateway.transports import Transports

log = logging.getLogger(__name__)

REPLAY_DRAIN_TIMEOUT = 10.0
"""Seconds a recovering socket gets to read half its queue before it is closed."""


@dataclass(frozen=True, slots=True)
class Held:
    """A live delivery kept back while its socket recovers missed messages."""

    event: str
    body: bytes
    packet: eio_packet.Packet


class Fanout:
    """Tracks which delivery subjects this gateway hosts and delivers to them."""

    def __init__(self, sio: Any, nc: NATS, namespaces: Iterable[str], max_pending: int) -> None:
        self._sio = sio
        self._nc = nc
        self._namespaces = tuple(namespaces)
        self._max_pending = max_pending
        self._refs: dict[str, int] = {}
        self._subs: dict[str, Subscription] = {}
        self._held: dict[str, list[Held]] = {}
        self._closing: dict[str, asyncio.Task[None]] = {}
        self.transports = Transports()
        self.seen = Seen()
        """Log `seq`s received per subject, for resyncs after a NATS reconnect (`resync`)."""
        self.owner_of: Callable[[str], tuple[str, str] | None] = lambda sid: None
        """`(tenant, userId)` of a local socket, for revocations (set by the gateway)."""
        self.on_revoked: Callable[[str, str], None] = lambda sid, subject: None
        """Told when a revocation took socket `sid` out of `subject` (set by the gateway)."""
        self.on_delivered: Callable[[str, delivery.Delivery], None] = lambda subject, item: None
        """Told after a delivery reached the sockets of `subject` (set by the gateway)."""
        self.received = 0
        self.delivered = 0
        self.dropped_slow = 0

    @property
    def hosted(self) -> frozenset[str]:
        """Subjects this gateway is subscribed to now."""
        return frozenset(self._subs)

    async def join(self, sid: str, namespace: str, subjects: Iterable[str]) -> None:
        """Put a socket in rooms, subscribing to subjects first hosted here."""
        new: list[str] = []
        for subject in subjects:
            await self._sio.enter_room(sid, subject, namespace=namespace)
            count = self._refs.get(subject, 0)
            self._refs[subject] = count + 1
            if count == 0:
                new.append(subject)
        for subject in new:
            sub = await self._nc.subscribe(subject, cb=self._on_delivery)
            if self._refs.get(subject, 0) > 0 and subject not in self._subs:
                self._subs[subject] = sub
            else:
                await sub.unsubscribe()
        if new and self._nc.is_connected:
            await self._nc.flush()

    async def leave(self, sid: str, namespace: str, subjects: Iterable[str]) -> None:
        """Take a socket out of rooms, unsubscribing from subjects no longer hosted."""
        for subject in subjects:
            await self._sio.leave_room(sid, subject, namespace=namespace)
            await self.forget(subject)

    async def forget(self, subject: str) -> None:
        """Drop one reference to `subject` (the socket already left the room)."""
        count = self._refs.get(subject, 0) - 1
        if count > 0:
            self._refs[subject] = count
            return
        self._refs.pop(subject, None)
        sub = self._subs.pop(subject, None)
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:
                log.debug("unsubscribe from %s failed", subject, exc_info=True)

    async def _on_delivery(self, msg: Msg) -> None:
        self.received += 1
        try:
            item = delivery.decode(msg.headers, msg.data)
        except ValueError:
            log.warning("dropped a malformed delivery on %s", msg.subject)
            return
        if item.revokes:
            await self.revoke(msg.subject, item)
        else:
            seq = item.seq if item.seq is not None else logged_seq(item)
            if seq is not None:
                self.seen.add(msg.subject, seq)
            await self.deliver(msg.subject, item)
            self.on_delivered(msg.subject, item)

    def _framed(
        self, subject: str, item: delivery.Delivery
    ) -> Iterator[tuple[str, dict[str, Any], dict[str, str], eio_packet.Packet]]:
        """Per namespace with local sockets in `subject`'s room: the namespace, its
        rooms, the room's members (sid → Engine.IO sid) and the delivery framed once."""
        rooms = self._sio.manager.rooms
        event_json = orjson.dumps(item.event).decode()
        body = item.body.decode()
        for namespace in self._namespaces:
            ns_rooms = rooms.get(namespace)
            members = ns_rooms.get(subject) if ns_rooms else None
            if not members:
                continue
            prefix = "2[" if namespace == "/" else f"2{namespace},["
            pkt = eio_packet.Packet(eio_packet.MESSAGE, f"{prefix}{event_json},{body}]")
            yield namespace, ns_rooms, members, pkt

    async def revoke(self, subject: str, item: delivery.Delivery) -> int:
        """Send a revoking delivery (`room:left`) to the local sockets it names in
        `subject`'s room, then take them out of the room; returns how many left.

        Deliveries on one subject arrive in order, so nothing published to the room
        after the revocation reaches a socket it removed.
        """
        left = 0
        for namespace, _, members, pkt in self._framed(subject, item):
            for sid, eio_sid in list(members.items()):
                owner = self.owner_of(sid)
                if not item.revoke_all and owner not in item.revoke_users:
                    continue
                if item.revoke_all and owner in item.keep_users:
                    continue
                await self._send(eio_sid, pkt)
                await self.leave(sid, namespace, [subject])
                self.on_revoked(sid, subject)
                left += 1
        return left

    async def deliver(self, subject: str, item: delivery.Delivery) -> int:
        """Emit one delivery to local sockets in `subject`'s room; returns the count."""
        sent = 0
        for _, ns_rooms, members, pkt in self._framed(subject, item):
            skip_rooms = [ns_rooms[s] for s in item.skip_subjects if s in ns_rooms]
            for sid, eio_sid in list(members.items()):
                if sid == item.skip_sid or any(sid in r for r in skip_rooms):
                    continue
                held = self._held.get(sid) if self._held else None
                if held is not None:
                    self._hold_packet(sid, eio_sid, held, Held(item.event, item.body, pkt))
                    continue
                if await self._send(eio_sid, pkt):
                    sent += 1
        self.delivered += sent
        return sent

    async def _send(self, eio_sid: str, pkt: eio_packet.Packet) -> bool:
        sock = self._sio.eio.sockets.get(eio_sid)
        if sock is None or sock.closing or sock.closed:
            return False
        if sock.queue.qsize() >= self._max_pending:
            self.drop(eio_sid, f"{sock.queue.qsize()} packets unread")
            return False
        await sock.send(pkt)
        return True

    # closing slow sockets -------------------------------------------------------

    def drop(self, eio_sid: str, why: str) -> None:
        """Close a socket that does not read, at the transport, counting it once.

        The TCP connection is reset first (its queued data is dropped: the client
        was not reading it), then the Engine.IO socket is closed without waiting
        for its queue, which runs the disconnect handlers. The closing task is kept
        until it ends; a socket already being closed is neither counted nor closed
        again.
        """
        if eio_sid in self._closing:
            return
        self.dropped_slow += 1
        log.warning("closing slow socket %s: %s", eio_sid, why)
        task = asyncio.get_running_loop().create_task(self._close(eio_sid))
        self._closing[eio_sid] = task
        task.add_done_callback(lambda done: self._closed(eio_sid, done))

    async def settle(self) -> None:
        """Wait for the slow sockets being closed (shutdown and tests)."""
        if self._closing:
            await asyncio.gather(*self._closing.values(), return_exceptions=True)

    async def _close(self, eio_sid: str) -> None:
        eio = self._sio.eio
        self.transports.abort(eio_sid)
        sock = eio.sockets.get(eio_sid)
        if sock is None:
            return
        try:
            await sock.close(wait=False, abort=True, reason=eio.reason.SERVER_DISCONNECT)
        finally:
            if eio.sockets.get(eio_sid) is sock:
                del eio.sockets[eio_sid]

    def _closed(self, eio_sid: str, task: asyncio.Task[None]) -> None:
        self._closing.pop(eio_sid, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("closing slow socket %s failed", eio_sid, exc_info=exc)

    # holding live deliveries while a socket recovers ------------------------------

    def hold(self, sid: str) -> None:
        """Keep live deliveries to `sid` back until `unhold` (see `recovery`)."""
        self._held.setdefault(sid, [])

    def take_held(self, sid: str) -> list[Held]:
        """The deliveries held for `sid` so far; holding goes on."""
        held = self._held.get(sid)
        if not held:
            return []
        self._held[sid] = []
        return held

    def held_now(self, sid: str) -> list[Held]:
        """The deliveries held for `sid` so far, left in place (read only)."""
        return self._held.get(sid) or []

    def unhold(self, sid: str) -> None:
        """Deliver live messages to `sid` directly again (held ones are dropped)."""
        self._held.pop(sid, None)

    def _hold_packet(self, sid: str, eio_sid: str, held: list[Held], item: Held) -> None:
        if len(held) >= self._max_pending:
            self._held.pop(sid, None)
            self.drop(eio_sid, f"{len(held)} deliveries held during recovery")
            return
        held.append(item)

    async def send_event(self, sid: str, namespace: str, event: str, body: bytes) -> bool:
        """Send one event with a JSON `body` to `sid`, bypassing holding."""
        prefix = "2[" if namespace == "/" else f"2{namespace},["
        event_json = orjson.dumps(event).decode()
        pkt = eio_packet.Packet(eio_packet.MESSAGE, f"{prefix}{event_json},{body.decode()}]")
        return await self.send_packet(sid, namespace, pkt)

    async def send_packet(self, sid: str, namespace: str, pkt: eio_packet.Packet) -> bool:
        """Send a framed packet to `sid`, waiting for its writer while half the limit is queued.

        Used for replays, which may be larger than the slow-socket limit: a socket that
        does not drain its queue within `REPLAY_DRAIN_TIMEOUT` is closed.
        """
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, namespace)
        sock = self._sio.eio.sockets.get(eio_sid) if eio_sid else None
        if sock is None or sock.closing or sock.closed:
            return False
        if sock.queue.qsize() >= self._max_pending // 2:
            try:
                await asyncio.wait_for(sock.queue.join(), REPLAY_DRAIN_TIMEOUT)
            except TimeoutError:
                self.drop(eio_sid, "replay not read")
                return False
        await sock.send(pkt)
        return True
