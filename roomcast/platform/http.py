"""The platform listener's HTTP side: a small ASGI app and uvicorn to serve it.

Paths (GET):

- `/healthz`: 200 while the process runs its event loop;
- `/readyz`: 200 when every dependency answers, else 503; the JSON body names each
  dependency and whether it answered;
- `/metrics`: the Prometheus text format;
- any extra JSON route a service adds (the gateway's `/statz`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import uvicorn

from roomcast.platform.checks import Check, run_checks
from roomcast.platform.metrics import CONTENT_TYPE, ServiceMetrics
from roomcast.platform.runtime import ListenError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON_TYPE = "application/json"


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def platform_app(
    checks: Mapping[str, Check],
    metrics: ServiceMetrics,
    json_routes: Mapping[str, Callable[[], Mapping[str, Any]]] | None = None,
) -> ASGIApp:
    """The ASGI app serving `/healthz`, `/readyz`, `/metrics` and `json_routes`.

    Args:
        checks: Readiness checks by dependency name (`nats`, `postgres`, `redis`).
        metrics: The process's registry; every scrape first runs the checks.
        json_routes: Extra paths answered with the JSON of a callable's result.
    """
    extra = dict(json_routes or {})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, b'{"ok": false}', JSON_TYPE)
        elif path == "/healthz":
            await _respond(send, 200, b'{"ok": true}', JSON_TYPE)
        elif path == "/readyz":
            results = await run_checks(checks)
            metrics.record(results)
            ok = all(results.values())
            body = json.dumps({"ok": ok, "dependencies": results}).encode()
            await _respond(send, 200 if ok else 503, body, JSON_TYPE)
        elif path == "/metrics":
            results, _ = await asyncio.gather(run_checks(checks), metrics.refresh())
            metrics.record(results)
            await _respond(send, 200, metrics.render(), CONTENT_TYPE)
        elif path in extra:
            await _respond(send, 200, json.dumps(dict(extra[path]())).encode(), JSON_TYPE)
        else:
            await _respond(send, 404, b'{"ok": false}', JSON_TYPE)

    return app


class _Server(uvicorn.Server):
    """uvicorn that leaves signals to the service it runs in."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpListener:
    """Serves an ASGI app on `host:port` (0: a free port) inside the running loop."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.host = host
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            ws="none",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self) -> int:
        """Listen; returns the bound port.

        The socket is bound here rather than by uvicorn, whose bind failure ends the
        whole event loop with `sys.exit` from inside a task.

        Raises:
            ListenError: the address cannot be bound (taken, or not this host's).
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {exc}") from None
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                with contextlib.suppress(BaseException):
                    await self._task
                raise ListenError(f"cannot serve on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        return self.port

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._task = None
