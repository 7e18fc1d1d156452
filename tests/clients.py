"""Real Socket.IO clients for integration and e2e tests."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import socketio

from roomcast.dev.tokens import mint

SECRET = "roomcast-test-secret-0123456789abcdef"
AUDIENCE = "roomcast-tests"


def unique(prefix: str) -> str:
    """A tenant or user id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def token(
    user: str,
    tenant: str,
    role: str = "member",
    *,
    ttl: float = 600,
    secret: str = SECRET,
    audience: str | None = AUDIENCE,
    **extra: Any,
) -> str:
    """A test token (`roomcast.dev.tokens.mint`) named `user.title()`, without `iat` unless
    `extra` has one; `extra` replaces any claim."""
    return mint(
        secret,
        user,
        tenant,
        role,
        name=user.title(),
        ttl=ttl,
        audience=audience,
        **{"iat": None, **extra},
    )


class Client:
    """A connected `socketio.AsyncClient` that records every event it receives."""

    def __init__(self, namespace: str = "/tenant") -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._changed.set()

    async def connect(self, url: str, auth: Any = None, **kwargs: Any) -> Client:
        await self.sio.connect(
            url,
            auth=auth,
            namespaces=[self.namespace],
            transports=["websocket"],
            wait_timeout=10,
            **kwargs,
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        """The first `event` whose payload satisfies `predicate`, waiting if needed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for data in self.received(event):
                if predicate(data):
                    return data
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {event} within {timeout}s; got {self.events[-5:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connect(url: str, tok: str, namespace: str = "/tenant", **kwargs: Any) -> Client:
    """Connect a recording client with `auth: {token}`."""
    return await Client(namespace).connect(url, auth={"token": tok}, **kwargs)


async def connect_error(url: str, namespace: str = "/tenant", **kwargs: Any) -> Any:
    """Try to connect; return the `connect_error` payload (fails if it connects)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data=None: errors.append(data), namespace=namespace)
    try:
        await client.connect(
            url, namespaces=[namespace], transports=["websocket"], wait_timeout=10, **kwargs
        )
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await client.disconnect()
        raise AssertionError("the connection was accepted")
    finally:
        if client.connected:
            await client.disconnect()
    assert errors, "refused without a connect_error packet"
    return errors[0]


def http_get(url: str) -> tuple[int, Any]:
    """GET a gateway's HTTP endpoint (`/statz`, ...): status and decoded JSON body."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
