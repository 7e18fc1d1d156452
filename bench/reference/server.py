"""The reference roomcast is compared with: python-socketio + Redis, as a user would write it.

A plain `socketio.AsyncServer` with `socketio.AsyncRedisManager`, served by uvicorn
with its defaults. Several processes on several ports share one Redis channel, so an
emit to a room reaches the sockets of that room on every process. It speaks the part of
roomcast's protocol that the DM bench uses:

- Socket.IO v4 on `/tenant`; `auth: {token}` carries an HS256 JWT (`sub`, `tenant`,
  `role`), signed with `REFERENCE_JWT_SECRET`; a bad token is refused.
- On connect the socket joins `user:{sub}` and `tenant:{tenant}`.
- `chat:send {to, body}` → `chat:message {from, to, body}` to `user:{to}` of the
  sender's tenant, wherever that user is connected; the ack is `{ok: true}`.

No authorization beyond the token, no storage, no durability: what roomcast adds to
a direct message is exactly what this does not do.

Run: `python -m bench.reference.server --port 7101 --redis-url redis://127.0.0.1:6379/8`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import jwt
import socketio
import uvicorn

NAMESPACE = "/tenant"

_identities: dict[str, tuple[str, str]] = {}
"""sid → (tenant, user) of each connected socket of this process."""


def build(secret: str, redis_url: str, channel: str) -> socketio.ASGIApp:
    """The ASGI app of one reference process."""
    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise ConnectionRefusedError("UNAUTHENTICATED")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise ConnectionRefusedError("UNAUTHENTICATED") from None
        tenant, user = str(claims["tenant"]), str(claims["sub"])
        _identities[sid] = (tenant, user)
        await sio.enter_room(sid, f"user:{tenant}:{user}", namespace=NAMESPACE)
        await sio.enter_room(sid, f"tenant:{tenant}", namespace=NAMESPACE)

    async def disconnect(sid: str, *args: Any) -> None:
        _identities.pop(sid, None)

    async def chat_send(sid: str, data: Any) -> dict[str, Any]:
        identity = _identities.get(sid)
        if identity is None:
            return {"ok": False, "error": {"code": "UNAUTHENTICATED", "message": "who are you"}}
        if not isinstance(data, dict) or not isinstance(data.get("to"), str):
            return {"ok": False, "error": {"code": "INVALID", "message": "to: a user id"}}
        body = data.get("body")
        if not isinstance(body, str) or not body:
            return {"ok": False, "error": {"code": "INVALID", "message": "body: a string"}}
        tenant, user = identity
        message = {"from": user, "to": data["to"], "body": body}
        room = f"user:{tenant}:{data['to']}"
        await sio.emit("chat:message", message, room=room, skip_sid=sid, namespace=NAMESPACE)
        return {"ok": True}

    sio.on("connect", connect, namespace=NAMESPACE)
    sio.on("disconnect", disconnect, namespace=NAMESPACE)
    sio.on("chat:send", chat_send, namespace=NAMESPACE)
    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--channel",
        default="roomcast-bench-reference",
        help="Redis pub/sub channel the processes share (channels ignore the db number)",
    )
    args = parser.parse_args()
    secret = os.environ["REFERENCE_JWT_SECRET"]
    app = build(secret, args.redis_url, args.channel)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
