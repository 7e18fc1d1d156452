"""`roomcast dev`: the whole system on one machine, one OS process per service.

NATS, PostgreSQL and Redis come from `ROOMCAST_NATS_URL` / `ROOMCAST_DATABASE_URL`
/ `ROOMCAST_REDIS_URL`, or else run embedded (`roomcast.embedded`) with their
data under the data directory. Services print to this terminal, each line
prefixed with the service's name; embedded servers log to `<data_dir>/<server>/`.
Ctrl-C or SIGTERM stops the services, then the servers, and exits 0; a service
that dies stops everything with exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, cast
from urllib.parse import urlsplit

from roomcast import devstate
from roomcast.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis, EmbeddedServer
from roomcast.processes import child_options, stop_process

SERVICES = ("rooms", "presence", "persistence")
SERVERS: dict[str, tuple[str, type[EmbeddedServer]]] = {
    "nats_url": ("ROOMCAST_NATS_URL", EmbeddedNats),
    "database_url": ("ROOMCAST_DATABASE_URL", EmbeddedPostgres),
    "redis_url": ("ROOMCAST_REDIS_URL", EmbeddedRedis),
}
_print_lock = threading.Lock()


class StartupError(Exception):
    """Something `roomcast dev` needs did not come up; the message names it."""


class _Interrupted(Exception):
    pass


def say(text: str, name: str = "dev", stream: IO[str] | None = None) -> None:
    """Print one line prefixed with its source, safe from several threads."""
    with _print_lock, contextlib.suppress(BrokenPipeError, ValueError):
        print(f"{name:<11}| {text}", file=stream or sys.stdout, flush=True)


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


@dataclass
class Part:
    """One service process and how to tell it is ready."""

    name: str
    module: str
    env: dict[str, str]
    ready_file: Path
    proc: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        """Spawn `python -m <module>`, streaming its output with a name prefix."""
        self.ready_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **child_options(),
        )
        self.pump = threading.Thread(
            target=self._pump, args=(self.proc.stdout,), name=f"pump-{self.name}", daemon=True
        )
        self.pump.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            say(raw.decode(errors="replace").rstrip(), self.name)


class Supervisor:
    """Starts, watches and stops everything `roomcast dev` runs.

    Args:
        data_dir: Where embedded data, ready files, the JWT secret and `dev.json` live.
        port: Port of the first gateway; the others use the next ones.
        gateways: How many gateway processes to run.
        ready_timeout: Seconds every service gets to become ready.
    """

    def __init__(
        self, data_dir: Path, port: int = 8000, gateways: int = 1, ready_timeout: float = 30.0
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.gateways = gateways
        self.ready_timeout = ready_timeout
        self.host = os.environ.get("ROOMCAST_HOST", "127.0.0.1")
        self.servers: list[EmbeddedServer] = []
        self.parts: list[Part] = []
        self.urls: dict[str, str] = {}
        self._signal: int | None = None

    def run(self) -> int:
        """Run until Ctrl-C/SIGTERM (exit code 0) or a failure (exit code 1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in self._signals()}
        try:
            return self._start_and_watch()
        except _Interrupted:
            return 0
        except StartupError as exc:
            say(f"error: {exc}", stream=sys.stderr)
            return 1
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @staticmethod
    def _signals() -> tuple[signal.Signals, ...]:
        return (signal.SIGINT, signal.SIGTERM)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signal = signum

    def _check_stop(self) -> None:
        if self._signal is not None:
            raise _Interrupted

    def _start_and_watch(self) -> int:
        running = devstate.read(self.data_dir)
        if running is not None:
            raise StartupError(f"roomcast dev already runs on {self.data_dir} (pid {running.pid})")
        self._check_ports()
        for key, (env, server_cls) in SERVERS.items():
            self.urls[key] = self._server_url(key, env, server_cls)
            self._check_stop()
        secret = self._jwt_secret()
        self._migrate(self.urls["database_url"])
        self._check_stop()
        self._spawn(secret)
        self._wait_ready()
        gateway_urls = [f"http://{self.host}:{self.port + i}" for i in range(self.gateways)]
        state = devstate.DevState(
            pid=os.getpid(),
            nats_url=self.urls["nats_url"],
            database_url=self.urls["database_url"],
            redis_url=self.urls["redis_url"],
            jwt_secret=secret,
            data_dir=str(self.data_dir),
            gateways=gateway_urls,
        )
        devstate.write(self.data_dir, state)
        self._banner(state)
        return self._watch()

    def _check_ports(self) -> None:
        for port in range(self.port, self.port + self.gateways):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((self.host, port))
                except OSError as exc:
                    raise StartupError(
                        f"gateway port {self.host}:{port} is not free ({exc.strerror}); "
                        "choose another with --port"
                    ) from None

    def _server_url(self, key: str, env: str, server_cls: type[EmbeddedServer]) -> str:
        if os.environ.get(env):
            say(f"{server_cls.name}: {_mask(os.environ[env])} (from {env})")
            return os.environ[env]
        server = server_cls(self.data_dir / server_cls.name)
        self.servers.append(server)
        started = time.monotonic()
        try:
            url = server.start()
        except Exception as exc:
            raise StartupError(f"embedded {server_cls.name} did not start: {exc}") from exc
        took = time.monotonic() - started
        say(f"{server_cls.name}: embedded at {url} ({took:.2f} s, log {server.log_path})")
        return url

    def _jwt_secret(self) -> str:
        if os.environ.get("ROOMCAST_JWT_SECRET"):
            say("JWT secret: from ROOMCAST_JWT_SECRET")
            return os.environ["ROOMCAST_JWT_SECRET"]
        secret = devstate.load_or_create_secret(self.data_dir)
        say(f"JWT secret: {secret} (kept in {self.data_dir / devstate.SECRET_FILE})")
        return secret

    def _migrate(self, database_url: str) -> None:
        try:
            module = importlib.import_module("roomcast.migrations")
        except ImportError as exc:
            say(f"warning: migrations not applied, roomcast.migrations is missing ({exc})")
            return
        upgrade = cast(Callable[[str], Awaitable[None]], module.upgrade)
        try:
            asyncio.run(asyncio.wait_for(upgrade(database_url), timeout=120))
        except Exception as exc:
            raise StartupError(f"migrations failed on {_mask(database_url)}: {exc!r}") from exc
        say("database migrations applied")

    def _spawn(self, secret: str) -> None:
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "ROOMCAST_JWT_SECRET": secret}
        base |= {"ROOMCAST_DATA_DIR": str(self.data_dir)}
        base |= {env: self.urls[key] for key, (env, _) in SERVERS.items()}
        run_dir = self.data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        wanted: list[tuple[str, str, dict[str, str]]] = [(name, name, {}) for name in SERVICES]
        for i in range(self.gateways):
            port_env = {"ROOMCAST_PORT": str(self.port + i), "ROOMCAST_HOST": self.host}
            wanted.append((f"gateway-{i + 1}", "gateway", port_env))
        for name, service, extra in wanted:
            module = f"services.{service}"
            if not _has_main(module):
                say(f"warning: {module} has no __main__ yet; not starting {name}")
                continue
            ready = run_dir / f"{name}.ready"
            env = {**base, **extra, "ROOMCAST_INSTANCE_ID": name, "ROOMCAST_READY_FILE": str(ready)}
            part = Part(name=name, module=module, env=env, ready_file=ready)
            self.parts.append(part)
            part.start()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            self._check_stop()
            self._check_alive(before_ready=True)
            waiting = [p.name for p in self.parts if not p.ready_file.exists()]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                late = ", ".join(waiting)
                raise StartupError(f"not ready after {self.ready_timeout:.0f} s: {late}")
            time.sleep(0.05)

    def _check_alive(self, before_ready: bool = False) -> None:
        when = " before it was ready" if before_ready else ""
        for part in self.parts:
            code = part.proc.poll() if part.proc is not None else None
            if code is not None:
                raise StartupError(f"{part.name} exited with code {code}{when}; see its output")
        for server in self.servers:
            if not server.running:
                raise StartupError(f"embedded {server.name} died; see {server.log_path}")

    def _banner(self, state: devstate.DevState) -> None:
        lines = [f"roomcast dev is running (supervisor pid {state.pid})"]
        lines += [f"  gateway    {url}" for url in state.gateways]
        lines += [f"  NATS       {state.nats_url}", f"  data       {state.data_dir}"]
        lines += [f"  token      {_cli()} token --user alice --tenant acme --role member"]
        lines += ["Press Ctrl-C to stop."]
        for line in lines:
            say(line)

    def _watch(self) -> int:
        while self._signal is None:
            self._check_alive()
            time.sleep(0.1)
        say(f"received {signal.Signals(self._signal).name}, stopping")
        return 0

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop services (SIGTERM, then SIGKILL after `timeout`), then servers."""
        parts, self.parts = list(reversed(self.parts)), []
        for part in parts:
            if part.proc is not None and part.proc.poll() is None:
                part.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for part in parts:
            if part.proc is not None:
                stop_process(part.proc, signal.SIGTERM, max(0.0, deadline - time.monotonic()))
        for part in parts:
            if part.pump is not None:
                part.pump.join(timeout=2.0)
        servers, self.servers = list(reversed(self.servers)), []
        for server in servers:
            server.stop()
        devstate.remove(self.data_dir)
        if parts or servers:
            say("stopped")


def _has_main(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def run(data_dir: Path, port: int = 8000, gateways: int = 1) -> int:
    """Run `roomcast dev` in the foreground and return its exit code."""
    return Supervisor(data_dir, port=port, gateways=gateways).run()


def _cli() -> str:
    """How to call `roomcast` from another terminal: this environment's script."""
    script = Path(sys.executable).with_name("roomcast")
    if not script.exists():
        return "roomcast"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
