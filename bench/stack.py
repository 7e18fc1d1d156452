"""Start the services and gateways as separate processes for a benchmark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roomcast.migrations import migrate
from roomcast.tokens import mint

SECRET = "roomcast-bench-secret-0123456789abcdefgh"


def token(user: str, tenant: str) -> str:
    """A member token the benchmark's gateways accept."""
    return mint(SECRET, user, tenant)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            **os.environ,
            "ROOMCAST_JWT_SECRET": SECRET,
            "ROOMCAST_LOG_LEVEL": "WARNING",
            "ROOMCAST_RATE_LIMIT_PER_SEC": "100000",
            "ROOMCAST_RATE_LIMIT_BURST": "100000",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: list[str] = []
        self.gateways = gateways
        self.services = services

    def start(self) -> BenchStack:
        db = self.env.get(
            "ROOMCAST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
        migrate(db)
        for service in self.services:
            self._spawn(service, service, {})
        for i in range(self.gateways):
            port = free_port()
            self._spawn("gateway", f"gateway-{i + 1}", {"ROOMCAST_PORT": str(port)})
            self.urls.append(f"http://127.0.0.1:{port}")
        for name in self.procs:
            self._wait(name)
        return self

    def _spawn(self, service: str, name: str, env: dict[str, str]) -> None:
        ready = self.dir / f"{name}.ready"
        log = (self.dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            env={
                **self.env,
                **env,
                "ROOMCAST_READY_FILE": str(ready),
                "ROOMCAST_INSTANCE_ID": name,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait(self, name: str) -> None:
        ready = self.dir / f"{name}.ready"
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} failed; see {self.dir / (name + '.log')}")
            time.sleep(0.05)
        json.loads(ready.read_text())

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
