"""`roomcast dev`: the whole system on one machine, one OS process per service.

NATS, PostgreSQL and Redis come from `ROOMCAST_NATS_URL` / `ROOMCAST_DATABASE_URL`
/ `ROOMCAST_REDIS_URL`, or else run embedded (`roomcast.dev.embedded`) with their
data under the data directory. Services print to this terminal, each line
prefixed with the service's name; embedded servers log to `<data_dir>/<server>/`.
Ctrl-C or SIGTERM stops the services, then the servers, and exits 0.

Once everything is ready, a service or embedded server that dies is restarted
(same port, same data directory) after a back-off, while the rest keep serving;
one that crashes too often (`roomcast.dev.restarts`) stops everything with exit
code 1. During start-up any failure stops everything at once.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import os
import shlex
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from roomcast import registry
from roomcast.dev import devstate
from roomcast.dev.children import Child, ServerChild, ServiceChild, say
from roomcast.dev.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServer,
    nats_cluster,
    wait_jetstream,
)
from roomcast.dev.processes import port_free, stop_leftovers
from roomcast.dev.restarts import RestartPolicy
from roomcast.dev.service_process import ServiceProcess
from roomcast.migrations import migrate
from roomcast.platform.settings import DEFAULT_DATA_DIR

SERVERS: dict[str, tuple[str, type[EmbeddedServer]]] = {
    "nats_url": ("ROOMCAST_NATS_URL", EmbeddedNats),
    "database_url": ("ROOMCAST_DATABASE_URL", EmbeddedPostgres),
    "redis_url": ("ROOMCAST_REDIS_URL", EmbeddedRedis),
}


class DevError(Exception):
    """Something `roomcast dev` needs did not come up or keeps crashing; names it."""


class _Interrupted(Exception):
    pass


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


class Supervisor:
    """Starts, watches, restarts and stops everything `roomcast dev` runs.

    Args:
        data_dir: Where embedded data, ready files, the JWT secret and `dev.json` live.
        port: Port of the first gateway; the others use the next ones.
        gateways: How many gateway processes to run.
        ready_timeout: Seconds every service gets to become ready.
        policy: When a part that keeps crashing makes `roomcast dev` give up.
        nats_cluster: Embedded NATS servers forming one JetStream cluster (1: a single
            server); streams then get min(3, n) replicas.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 8000,
        gateways: int = 1,
        ready_timeout: float = 30.0,
        policy: RestartPolicy | None = None,
        nats_cluster: int = 1,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.nats_cluster = nats_cluster
        self.port = port
        self.gateways = gateways
        self.ready_timeout = ready_timeout
        self.policy = policy or RestartPolicy()
        self.host = os.environ.get("ROOMCAST_HOST", "127.0.0.1")
        self.servers: list[ServerChild] = []
        self.services: list[ServiceChild] = []
        self.urls: dict[str, str] = {}
        self.state: devstate.DevState | None = None
        self._signal: int | None = None

    def run(self) -> int:
        """Run until Ctrl-C/SIGTERM (exit code 0) or a failure (exit code 1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in self._signals()}
        try:
            return self._start_and_watch()
        except _Interrupted:
            return 0
        except DevError as exc:
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
        self._clear_previous_run()
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
        self.state = devstate.DevState(
            pid=os.getpid(),
            nats_url=self.urls["nats_url"],
            database_url=self.urls["database_url"],
            redis_url=self.urls["redis_url"],
            jwt_secret=secret,
            data_dir=str(self.data_dir),
            gateways=gateway_urls,
            started=devstate.process_started(os.getpid()),
        )
        self._record()
        self._banner(self.state)
        return self._watch()

    def _clear_previous_run(self) -> None:
        """Refuse a live `roomcast dev` on this directory; outwait a killed one's children."""
        previous = devstate.load(self.data_dir)
        if previous is None:
            return
        if devstate.is_running(previous):
            raise DevError(f"roomcast dev already runs on {self.data_dir} (pid {previous.pid})")
        say(f"the previous roomcast dev (pid {previous.pid}) was killed; clearing what it left")
        left = stop_leftovers(previous.children, timeout=10.0)
        if left:
            say(f"stopped {len(left)} process(es) it left running")
        (self.data_dir / devstate.STATE_FILE).unlink(missing_ok=True)

    def _check_ports(self) -> None:
        for port in range(self.port, self.port + self.gateways):
            if not port_free(port, self.host):
                raise DevError(
                    f"gateway port {self.host}:{port} is not free; choose another with --port"
                )

    def _server_url(self, key: str, env: str, server_cls: type[EmbeddedServer]) -> str:
        if os.environ.get(env):
            say(f"{server_cls.name}: {_mask(os.environ[env])} (from {env})")
            return os.environ[env]
        if server_cls is EmbeddedNats and self.nats_cluster > 1:
            return self._nats_cluster_url()
        server = server_cls(self.data_dir / server_cls.name)
        self.servers.append(ServerChild(server, self.policy))
        started = time.monotonic()
        try:
            url = server.start()
        except Exception as exc:
            raise DevError(f"embedded {server_cls.name} did not start: {exc}") from exc
        took = time.monotonic() - started
        say(f"{server_cls.name}: embedded at {url} ({took:.2f} s, log {server.log_path})")
        return url

    def _nats_cluster_url(self) -> str:
        """Start `nats_cluster` embedded NATS nodes as one cluster; their URLs, joined."""
        started = time.monotonic()
        urls = []
        for i, node in enumerate(nats_cluster(self.data_dir / "nats-cluster", self.nats_cluster)):
            self.servers.append(ServerChild(node, self.policy, name=f"nats-{i + 1}"))
            try:
                urls.append(node.start())
            except Exception as exc:
                raise DevError(f"embedded nats-{i + 1} did not start: {exc}") from exc
        try:
            asyncio.run(wait_jetstream(urls[0]))
        except Exception as exc:
            raise DevError(f"the embedded NATS cluster did not form: {exc}") from exc
        took = time.monotonic() - started
        say(
            f"nats: embedded cluster of {len(urls)} at {', '.join(urls)} ({took:.2f} s, "
            f"logs {self.data_dir / 'nats-cluster'}/node-*/nats.log)"
        )
        return ",".join(urls)

    def _jwt_secret(self) -> str:
        if os.environ.get("ROOMCAST_JWT_SECRET"):
            say("JWT secret: from ROOMCAST_JWT_SECRET")
            return os.environ["ROOMCAST_JWT_SECRET"]
        secret = devstate.load_or_create_secret(self.data_dir)
        say(f"JWT secret: kept in {self.data_dir / devstate.SECRET_FILE} (never printed)")
        return secret

    def _migrate(self, database_url: str) -> None:
        try:
            migrate(database_url)
        except Exception as exc:
            raise DevError(f"migrations failed on {_mask(database_url)}: {exc!r}") from exc
        say("database migrations applied")

    def _spawn(self, secret: str) -> None:
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "ROOMCAST_JWT_SECRET": secret}
        base |= {"ROOMCAST_DATA_DIR": str(self.data_dir)}
        base |= {env: self.urls[key] for key, (env, _) in SERVERS.items()}
        if self.nats_cluster > 1 and not os.environ.get("ROOMCAST_STREAM_REPLICAS"):
            base["ROOMCAST_STREAM_REPLICAS"] = str(min(3, self.nats_cluster))
        run_dir = self.data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        for service in registry.SERVICES:
            if not _has_main(service.module):
                say(f"warning: {service.module} has no __main__ yet; not starting {service.name}")
                continue
            replicas = range(self.gateways) if service.listens else [None]
            for i in replicas:
                instance = service.name if i is None else f"{service.name}-{i + 1}"
                port = None if i is None else self.port + i
                process = ServiceProcess(
                    service.name,
                    run_dir,
                    base,
                    port,
                    instance=instance,
                    host=self.host,
                    log=functools.partial(say, name=instance),
                )
                child = ServiceChild(process, self.policy)
                self.services.append(child)
                child.launch()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            self._check_stop()
            for child in self._children():
                code = child.exit_code()
                if code is not None:
                    raise DevError(
                        f"{child.name} exited with code {code} before it was ready; "
                        f"see {child.log_hint}"
                    )
            waiting = [p.name for p in self.services if not p.ready]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                late = ", ".join(waiting)
                raise DevError(f"not ready after {self.ready_timeout:.0f} s: {late}")
            time.sleep(0.05)

    def _children(self) -> list[Child]:
        return [*self.servers, *self.services]

    def _record(self) -> None:
        """Write `dev.json` with the current process ids."""
        if self.state is None:
            return
        children = [
            (pid, devstate.process_started(pid)) for c in self._children() for pid in c.pids()
        ]
        self.state = replace(self.state, children=children)
        devstate.write(self.data_dir, self.state)

    def _banner(self, state: devstate.DevState) -> None:
        token = f"{_cli()} token --user alice --tenant acme --role member"
        if self.data_dir != devstate.data_dir(DEFAULT_DATA_DIR):
            token += f" --data-dir {shlex.quote(_relative(self.data_dir))}"
        lines = [f"roomcast dev is running (supervisor pid {state.pid})"]
        lines += [f"  gateway    {url}" for url in state.gateways]
        lines += [f"  NATS       {state.nats_url}", f"  data       {state.data_dir}"]
        lines += [f"  token      {token}"]
        lines += [f"A part that dies is restarted; {self.policy.describe()} stop everything."]
        lines += ["Press Ctrl-C to stop."]
        for line in lines:
            say(line)

    def _watch(self) -> int:
        while self._signal is None:
            for child in self._children():
                self._tend(child, time.monotonic())
            time.sleep(0.1)
        say(f"received {signal.Signals(self._signal).name}, stopping")
        return 0

    def _tend(self, child: Child, now: float) -> None:
        """Notice a death, restart when the back-off is over, announce readiness."""
        if child.restart_at is not None:
            if now >= child.restart_at and self._signal is None:
                self._restart(child)
            return
        code = child.exit_code()
        if code is not None:
            self._crashed(child, f"exited with code {code}", now)
        elif isinstance(child, ServiceChild) and child.restarted and child.ready:
            child.restarted = False
            say(f"{child.name} is ready again")
            self._record()

    def _crashed(self, child: Child, what: str, now: float) -> None:
        child.reap()
        delay = child.history.record(now)
        if delay is None:
            raise DevError(f"{child.name} {what}: {self.policy.describe()}, giving up")
        say(
            f"{child.name} {what}; restarting in {delay:g} s "
            f"(crash {child.history.recent}; giving up at {self.policy.describe()})"
        )
        child.restart_at = now + delay

    def _restart(self, child: Child) -> None:
        child.restart_at = None
        try:
            child.launch()
        except Exception as exc:
            self._crashed(child, f"did not restart ({exc})", time.monotonic())
            return
        if isinstance(child, ServerChild):
            say(f"{child.name} is back at {child.server.url}")
            self._record()
        else:
            assert isinstance(child, ServiceChild)
            child.restarted = True
            say(f"{child.name} restarted (pid {child.process.pid})")
            self._record()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop services (SIGTERM, then SIGKILL after `timeout`), then servers."""
        services, self.services = list(reversed(self.services)), []
        for service in services:
            service.process.terminate()
        deadline = time.monotonic() + timeout
        for service in services:
            service.process.stop(max(0.0, deadline - time.monotonic()))
        servers, self.servers = list(reversed(self.servers)), []
        for child in servers:
            child.server.stop()
        devstate.remove(self.data_dir)
        if services or servers:
            say("stopped")


def _has_main(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def run(
    data_dir: Path,
    port: int = 8000,
    gateways: int = 1,
    policy: RestartPolicy | None = None,
    nats_cluster: int = 1,
) -> int:
    """Run `roomcast dev` in the foreground and return its exit code."""
    supervisor = Supervisor(
        data_dir, port=port, gateways=gateways, policy=policy, nats_cluster=nats_cluster
    )
    return supervisor.run()


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _cli() -> str:
    """How to call `roomcast` from another terminal: this environment's script."""
    script = Path(sys.executable).with_name("roomcast")
    if not script.exists():
        return "roomcast"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
