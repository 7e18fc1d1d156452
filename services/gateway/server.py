"""The Socket.IO edge: connections, identity, dispatch of client events."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import socketio
from nats.aio.client import Client as NATS
from pydantic import ValidationError

from contracts import endpoints
from contracts.access import auto_rooms
from contracts.client import echoable_client_id
from contracts.delivery import Delivery
from contracts.errors import ErrorCode, ServiceError
from contracts.ids import parse_message_id
from contracts.notifications import COUNT_EVENT
from contracts.tenants import RegisterMember
from roomcast.platform import bus
from roomcast.platform.runtime import instance_name
from roomcast.platform.security import SecurityEvents
from services.gateway import codec
from services.gateway.auth import (
    AuthError,
    TokenVerifier,
    VerifiedToken,
    check_namespace,
    extract_token,
)
from services.gateway.delivered import sid_key
from services.gateway.disconnects import UserDisconnects
from services.gateway.envelope import Ack, fail
from services.gateway.fanout import Fanout
from services.gateway.forwarding import Forwarder
from services.gateway.frames import Refusals
from services.gateway.handlers import HANDLERS, SEND_EVENTS
from services.gateway.limits import TokenBucket
from services.gateway.metrics import GatewayHosting
from services.gateway.notifications import NotificationCounts
from services.gateway.presence import PresenceReporter
from services.gateway.recovery import Recovery, requested_since
from services.gateway.resync import Resync
from services.gateway.sessions import NAMESPACES, Session
from services.gateway.settings import GatewaySettings
from services.gateway.shared_limits import shared_limits
from services.gateway.signals import GatewaySignals
from services.gateway.sio_server import UNNAMED_EVENT, StrictServer

log = logging.getLogger(__name__)


class Gateway:
    """Holds the Socket.IO server, the NATS connection and the live sessions."""

    def __init__(self, settings: GatewaySettings, nc: NATS, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.nc = nc
        self.verifier = verifier
        origins: Any = settings.cors_origins or None
        if origins == ["*"]:
            origins = "*"
        self.refusals = Refusals()
        self.sio = StrictServer(
            settings.max_bad_frames,
            self.refusals,
            async_mode="asgi",
            cors_allowed_origins=origins,
            max_http_buffer_size=settings.max_frame_bytes,
            http_compression=False,
            json=codec,
            namespaces="*",
        )
        self.fanout = Fanout(self.sio, nc, NAMESPACES, settings.max_pending_packets)
        self.sio.transports = self.fanout.transports
        self.fanout.owner_of = self._owner_of
        self.fanout.on_revoked = self._revoked
        self.sessions: dict[str, Session] = {}
        self.recovery = Recovery(nc, self.fanout, self.sessions, settings.request_timeout)
        self.resync = Resync(
            nc,
            self.fanout,
            self.recovery,
            self.sessions,
            horizon=settings.resync_horizon,
            concurrency=settings.resync_concurrency,
            poll_interval=settings.log_poll_interval,
            timeout=settings.request_timeout,
        )
        self._closing: set[asyncio.Task[None]] = set()
        self.presence = PresenceReporter(nc, settings)
        self.counts = NotificationCounts(
            nc, self.sessions, self._send_count, settings.request_timeout, self._members
        )
        self.forwarder = Forwarder(settings, nc)
        self.shared_limits = shared_limits(settings)
        self.disconnects = UserDisconnects(
            self.sio, nc, self.sessions, self._end_expired, settings.request_timeout
        )
        self.signals = GatewaySignals(
            SecurityEvents("gateway", instance_name(settings.instance_id, "gateway"), nc)
        )
        self.signals.metrics.watch(GatewayHosting(self.sio, self.sessions, self.fanout, NAMESPACES))
        self.fanout.on_delivered = self._delivered
        self.sio.eio.on_bad_origin = self.signals.origin_refused
        self.sio.on("connect", self._refuse_namespace, namespace="*")
        for ns in NAMESPACES:
            self.sio.on("connect", self._make_connect(ns), namespace=ns)
            self.sio.on("disconnect", self._make_disconnect(ns), namespace=ns)
            self.sio.on("*", self._make_dispatch(ns), namespace=ns)

    def stats(self) -> dict[str, int]:
        """Counters for `/statz`: connections, hosted rooms, deliveries, refusals."""
        return {
            "sessions": len(self.sessions),
            "hosted_subjects": len(self.fanout.hosted),
            "deliveries_received": self.fanout.received,
            "packets_delivered": self.fanout.delivered,
            "slow_consumers_dropped": self.fanout.dropped_slow,
            "frames_refused": self.refusals.frames,
            "closed_for_bad_frames": self.refusals.closed,
            "library_errors": self.refusals.library_errors,
            "nats_outages": self.resync.outages,
            "sockets_resynced": self.resync.resyncs,
            "messages_resynced": self.recovery.resynced_messages,
            "last_resync_ms": self.resync.last_resync_ms,
            "shared_limit_refused": self.shared_limits.refused if self.shared_limits else 0,
            "shared_limit_errors": self.shared_limits.errors if self.shared_limits else 0,
        }

    def _delivered(self, subject: str, item: Delivery) -> None:
        self.counts.delivered(subject, item)
        self.signals.delivered(item)

    def _owner_of(self, sid: str) -> tuple[str, str] | None:
        s = self.sessions.get(sid)
        return (s.identity.tenant, s.identity.user_id) if s is not None else None

    def _revoked(self, sid: str, subject: str) -> None:
        """A revocation took `sid` out of `subject`: forget every name it joined it by."""
        s = self.sessions.get(sid)
        if s is None:
            return
        s.subjects.discard(subject)
        for key in [k for k, v in s.joined.items() if v == subject]:
            del s.joined[key]
        self.recovery.revoked(sid, subject)

    async def verify(self, token: str) -> VerifiedToken:
        """Verify a token; `AuthError` becomes a `ServiceError` with the same code."""
        try:
            return await self.verifier.verify(token)
        except AuthError as exc:
            raise ServiceError(exc.code, exc.message) from None

    def schedule_expiry(self, s: Session, exp: int) -> None:
        """Disconnect `s` at `exp` plus the leeway, replacing an earlier deadline."""
        if s.expiry is not None:
            s.expiry.cancel()
        s.exp = exp
        delay = max(0.0, exp + self.settings.jwt_leeway - time.time())
        loop = asyncio.get_running_loop()
        s.expiry = loop.call_later(delay, self._expire, s)

    def _expire(self, s: Session) -> None:
        if self.sessions.get(s.sid) is s:
            log.info("token expired for %s on %s", s.identity.user_id, s.namespace)
            task = asyncio.get_running_loop().create_task(self._end_expired(s))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _end_expired(self, s: Session) -> None:
        """Disconnect the namespace; close the whole connection if nothing else uses it.

        A namespace disconnect leaves the Engine.IO connection (and, for a client that
        stopped reading, its TCP connection) open; a connection left with no namespace
        is closed at once, so its transport is cut after `CLOSE_GRACE` if it lingers.
        """
        eio_sid = self.sio.manager.eio_sid_from_sid(s.sid, s.namespace)
        await self.sio.disconnect(s.sid, s.namespace)
        if eio_sid is not None and not any(
            self.sio.manager.sid_from_eio_sid(eio_sid, ns) for ns in NAMESPACES
        ):
            await self.sio.close_connection(eio_sid)

    # connection lifecycle ------------------------------------------------------

    async def _refuse_namespace(self, namespace: str, sid: str, *args: Any) -> None:
        self.signals.unknown_namespace(namespace, args[0] if args else {})
        message = f"unknown namespace {namespace[:64]!r}; use /tenant or /manage"
        raise socketio.exceptions.ConnectionRefusedError(
            message, {"code": str(ErrorCode.FORBIDDEN), "message": message}
        )

    def _make_connect(self, namespace: str) -> Any:
        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            try:
                await self._connect(sid, namespace, environ, auth)
            except AuthError as exc:
                self.signals.connect_refused(namespace, exc, environ)
                raise socketio.exceptions.ConnectionRefusedError(
                    exc.message, {"code": str(exc.code), "message": exc.message}
                ) from None
            except Exception:
                log.exception("connect failed on %s", namespace)
                self.signals.connect_failed()
                await self._forget(sid)
                message = "the gateway could not set up the connection; retry"
                raise socketio.exceptions.ConnectionRefusedError(
                    message, {"code": str(ErrorCode.UNAVAILABLE), "message": message}
                ) from None

        return on_connect

    async def _connect(self, sid: str, namespace: str, environ: dict[str, Any], auth: Any) -> None:
        token = extract_token(environ, auth, self.settings.jwt_cookie)
        if token is None:
            raise AuthError("a token is required")
        verified = await self.verifier.verify(token)
        try:
            check_namespace(namespace, verified.identity.role, self.settings)
        except AuthError as exc:
            exc.identity = verified.identity
            raise
        s = Session(
            sid=sid,
            namespace=namespace,
            identity=verified.identity,
            exp=verified.exp,
            claims=verified.claims,
            bucket=TokenBucket(self.settings.rate_limit_per_sec, self.settings.rate_limit_burst),
        )
        self.sessions[sid] = s
        self.schedule_expiry(s, verified.exp)
        self.resync.connecting(s)
        since = requested_since(auth)
        if since is not None:
            self.recovery.hold(s)
        rooms = [r.subject for r in auto_rooms(verified.identity, namespace)]
        s.subjects.update(rooms)
        await self.fanout.join(sid, namespace, rooms)
        self.presence.opened(s)
        await self._register(s)
        if since is not None:
            self.recovery.start(s, since)
        self.counts.connected(s)

    def _members(self, subject: str) -> list[str]:
        """Sids of the local sockets in `subject`'s room, on every namespace."""
        rooms = self.sio.manager.rooms
        return [sid for ns in NAMESPACES for sid in rooms.get(ns, {}).get(subject, {})]

    async def _send_count(self, s: Session, unread: int) -> None:
        await self.sio.emit(COUNT_EVENT, {"unread": unread}, to=s.sid, namespace=s.namespace)

    async def _register(self, s: Session) -> None:
        try:
            member = RegisterMember(identity=s.identity)
            await bus.request(self.nc, endpoints.DIRECTORY_REGISTER, member)
        except ServiceError as exc:
            log.warning("tenant directory not updated for %s: %s", s.identity.user_id, exc.message)

    def _make_disconnect(self, namespace: str) -> Any:
        async def on_disconnect(sid: str, reason: Any = None) -> None:
            await self._forget(sid)

        return on_disconnect

    async def _forget(self, sid: str) -> None:
        """Drop everything the gateway holds for `sid` (closed or refused)."""
        s = self.sessions.pop(sid, None)
        if s is None:
            return
        self.presence.closed(sid)
        self.recovery.end(sid)
        if s.expiry is not None:
            s.expiry.cancel()
        for subject in s.subjects:
            await self.fanout.forget(subject)

    # client events -------------------------------------------------------------

    def _make_dispatch(self, namespace: str) -> Any:
        async def on_event(event: str, sid: str, *args: Any) -> Ack:
            started = time.perf_counter()
            ack = await self._dispatch(event, sid, args)
            s = self.sessions.get(sid)
            who, manage = (s.identity, s.on_manage) if s is not None else (None, False)
            self.signals.event(event, ack, started, who, manage, args[0] if args else None)
            if ack["ok"] and event in SEND_EVENTS:
                self._sent(sid, ack)
            elif not ack["ok"] and event in SEND_EVENTS:
                client_id = args[0].get("clientId") if args and isinstance(args[0], dict) else None
                error = {**ack["error"], "clientId": echoable_client_id(client_id)}
                await self.sio.emit("chat:error", error, to=sid, namespace=namespace)
            return ack

        return on_event

    def _sent(self, sid: str, ack: Ack) -> None:
        """The socket has the ack of a message it sent, and gets no copy: a resync must
        not replay it to that socket either."""
        try:
            _, seq = parse_message_id(str(ack.get("id")))
        except ValueError:
            return
        self.fanout.seen.add(sid_key(sid), seq)

    async def _dispatch(self, event: str, sid: str, args: tuple[Any, ...]) -> Ack:
        s = self.sessions.get(sid)
        if s is None:
            return fail(ErrorCode.UNAUTHENTICATED, "not connected")
        if not s.bucket.take():
            return fail(ErrorCode.RATE_LIMITED, "too many events; slow down")
        if self.shared_limits is not None:
            wait = await self.shared_limits.wait(s.identity)
            if wait:
                return fail(
                    ErrorCode.RATE_LIMITED,
                    f"too many events from your user or tenant; retry in {wait:.1f} s",
                )
        handler = HANDLERS.get(event) or self.forwarder.handler(event)
        if handler is None:
            return fail(ErrorCode.INVALID, _unknown(event))
        if len(args) > 1:
            return fail(ErrorCode.INVALID, "an event takes one payload object")
        try:
            return await handler(self, s, args[0] if args else {})
        except ValidationError as exc:
            return fail(ErrorCode.INVALID, _describe(exc))
        except ServiceError as exc:
            return fail(exc.code, exc.message)
        except Exception:
            log.exception("%s failed", event)
            return fail(ErrorCode.INTERNAL, "internal error")


def _unknown(event: str) -> str:
    if event == UNNAMED_EVENT:
        return "an event is named by a string other than connect, disconnect and *"
    return f"unknown event {event[:64]!r}"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
