"""Start the services and gateways as separate processes for a benchmark."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from roomcast.dev.service_process import ServiceProcess
from roomcast.dev.tokens import mint
from roomcast.migrations import migrate

SECRET = "roomcast-bench-secret-0123456789abcdefgh"


def token(user: str, tenant: str) -> str:
    """A member token the benchmark's gateways accept."""
    return mint(SECRET, user, tenant)


def stop_all(processes: Iterable[ServiceProcess], timeout: float = 10.0) -> None:
    """SIGTERM every process at once, then stop each (its whole group) within `timeout`."""
    ordered = list(processes)
    for proc in ordered:
        proc.terminate()
    for proc in ordered:
        proc.stop(timeout)


class BenchStack:
    """Services + N gateways on the servers named by ROOMCAST_* URLs (local defaults)."""

    def __init__(
        self,
        gateways: int = 2,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = ("rooms",),
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="roomcast-bench-"))
        self.env = {
            "ROOMCAST_JWT_SECRET": SECRET,
            "ROOMCAST_LOG_LEVEL": "WARNING",
            "ROOMCAST_RATE_LIMIT_PER_SEC": "100000",
            "ROOMCAST_RATE_LIMIT_BURST": "100000",
            **(extra_env or {}),
        }
        self.procs: dict[str, ServiceProcess] = {}
        self.urls: list[str] = []
        self.gateways = gateways
        self.services = services

    def start(self) -> BenchStack:
        """Migrate the database, start everything, and wait until all of it is ready."""
        db = self.env.get("ROOMCAST_DATABASE_URL") or os.environ.get(
            "ROOMCAST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
        migrate(db)
        for service in self.services:
            self._spawn(service, service)
        for i in range(self.gateways):
            self.urls.append(self._spawn("gateway", f"gateway-{i + 1}").url)
        try:
            for proc in self.procs.values():
                proc.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, service: str, name: str) -> ServiceProcess:
        proc = ServiceProcess(service, self.dir, self.env, instance=name)
        self.procs[name] = proc.start(wait=False)
        return proc

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def stop(self) -> None:
        stop_all(self.procs.values())
