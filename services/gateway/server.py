"""The Socket.IO edge: connections, identity, dispatch of client events."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import socketio
from nats.aio.client import Client as NATS
from pydantic import ValidationError
from socketio import packet

from contracts import subjects
from contracts.access import auto_rooms
from contracts.client import echoable_client_id
from contracts.errors import ErrorCode, ServiceError
from contracts.tenants import OkReply, RegisterMember
from services.gateway import codec
from services.gateway.auth import (
    AuthError,
    TokenVerifier,
    VerifiedToken,
    check_namespace,
    extract_token,
)
from services.gateway.envelope import Ack, fail
from services.gateway.events import HANDLERS, SEND_EVENTS
from services.gateway.fanout import Fanout
from services.gateway.frames import (
    EdgeWebSocket,
    Refusals,
    RefusedFrame,
    StrictPacket,
    library_logger,
)
from services.gateway.limits import TokenBucket
from services.gateway.presence import PresenceReporter
from services.gateway.recovery import Recovery, requested_since
from services.gateway.rpc import request
from services.gateway.sessions import NAMESPACES, Session
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

REGISTER_TIMEOUT = 1.0

UNNAMED_EVENT = ""
"""What an event named by a reserved name or a non-string is renamed to (`INVALID`)."""


class _Server(socketio.AsyncServer):  # type: ignore[misc]
    """AsyncServer that refuses malformed frames and reserved event names cheaply.

    Frames are decoded by `StrictPacket`; a `RefusedFrame` is counted, acknowledged
    when its ack id was read, and a connection that sent `max_bad_frames` of them (or
    one with an ack id too large to answer) is closed. An event named `connect`,
    `disconnect` or `*`, or by a non-string, would reach python-socketio's own
    handlers (`*` with the arguments shifted, so that the payload is taken for a
    socket id); it is renamed to `""`, which the dispatcher answers `INVALID` after
    the sender's own rate limit.
    """

    def __init__(self, max_bad_frames: int, refusals: Refusals, **kwargs: Any) -> None:
        super().__init__(
            serializer=StrictPacket,
            logger=library_logger("socketio", refusals),
            engineio_logger=library_logger("engineio", refusals),
            **kwargs,
        )
        self.eio._async = {**self.eio._async, "websocket": EdgeWebSocket}
        self.max_bad_frames = max_bad_frames
        self.refusals = refusals
        self._reserved = frozenset((*self.reserved_events, "*"))
        self._bad_frames: dict[str, int] = {}

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            if not data:  # python-socketio would not decode it: an EVENT without data
                raise RefusedFrame("empty frame")
            await super()._handle_eio_message(eio_sid, data)
        except RefusedFrame as refused:
            await self._refuse(eio_sid, refused)

    async def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            raise RefusedFrame(
                "not connected to this namespace", namespace, id, ErrorCode.UNAUTHENTICATED
            )
        event = data[0]
        if type(event) is not str or event in self._reserved:
            data = [UNNAMED_EVENT, *data[1:]]
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        self._bad_frames.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _refuse(self, eio_sid: str, refused: RefusedFrame) -> None:
        sock = self.eio.sockets.get(eio_sid)
        if sock is None or sock.closed:
            return  # frames read after the close: nobody to answer, nothing to count
        self.refusals.frame(refused.reason)
        if refused.id is not None:
            ack = fail(refused.code, refused.reason)
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    packet.ACK, namespace=refused.namespace, data=[ack], id=refused.id
                ),
            )
        count = self._bad_frames.get(eio_sid, 0) + 1
        self._bad_frames[eio_sid] = count
        if count == self.max_bad_frames or refused.unanswerable:
            self.refusals.closed += 1
            await self._close_now(eio_sid)

    async def _close_now(self, eio_sid: str) -> None:
        """Close an Engine.IO connection without waiting for its client to read.

        `eio.disconnect` waits for the queue to drain and leaves the WebSocket open
        until the client closes it; here the writer sends CLOSE, then ends the socket.
        """
        sock = self.eio.sockets.get(eio_sid)
        if sock is None or sock.closing:
            return
        await sock.close(wait=False)
        sock.queue.put_nowait(None)


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
        self.sio = _Server(
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
        self.recovery = Recovery(nc, self.fanout, settings.request_timeout)
        self.sessions: dict[str, Session] = {}
        self.presence = PresenceReporter(nc, settings)
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
        }

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
            asyncio.get_running_loop().create_task(self.sio.disconnect(s.sid, s.namespace))

    # connection lifecycle ------------------------------------------------------

    async def _refuse_namespace(self, namespace: str, sid: str, *args: Any) -> None:
        message = f"unknown namespace {namespace[:64]!r}; use /tenant or /manage"
        raise socketio.exceptions.ConnectionRefusedError(
            message, {"code": str(ErrorCode.FORBIDDEN), "message": message}
        )

    def _make_connect(self, namespace: str) -> Any:
        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            try:
                await self._connect(sid, namespace, environ, auth)
            except AuthError as exc:
                raise socketio.exceptions.ConnectionRefusedError(
                    exc.message, {"code": str(exc.code), "message": exc.message}
                ) from None
            except Exception:
                log.exception("connect failed on %s", namespace)
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
        check_namespace(namespace, verified.identity.role, self.settings)
        s = Session(
            sid=sid,
            namespace=namespace,
            identity=verified.identity,
            exp=verified.exp,
            bucket=TokenBucket(self.settings.rate_limit_per_sec, self.settings.rate_limit_burst),
        )
        self.sessions[sid] = s
        self.schedule_expiry(s, verified.exp)
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

    async def _register(self, s: Session) -> None:
        try:
            await request(
                self.nc,
                subjects.directory_register(),
                RegisterMember(identity=s.identity),
                OkReply,
                REGISTER_TIMEOUT,
                "rooms",
            )
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
            ack = await self._dispatch(event, sid, args)
            if not ack["ok"] and event in SEND_EVENTS:
                client_id = args[0].get("clientId") if args and isinstance(args[0], dict) else None
                error = {**ack["error"], "clientId": echoable_client_id(client_id)}
                await self.sio.emit("chat:error", error, to=sid, namespace=namespace)
            return ack

        return on_event

    async def _dispatch(self, event: str, sid: str, args: tuple[Any, ...]) -> Ack:
        s = self.sessions.get(sid)
        if s is None:
            return fail(ErrorCode.UNAUTHENTICATED, "not connected")
        if not s.bucket.take():
            return fail(ErrorCode.RATE_LIMITED, "too many events; slow down")
        handler = HANDLERS.get(event)
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
