"""`roomcast dev` as a developer runs it: embedded servers, real clients, Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil
import pytest

from roomcast.dev.processes import free_port, is_gone
from tests.clients import connect, unique

pytestmark = pytest.mark.e2e


def roomcast_command() -> list[str]:
    """The installed `roomcast` script next to this interpreter, else `-m roomcast.cli`."""
    script = Path(sys.executable).with_name("roomcast")
    return [str(script)] if script.exists() else [sys.executable, "-m", "roomcast.cli"]


def clean_env(data_dir: Path) -> dict[str, str]:
    """This environment without any `ROOMCAST_*` setting: embedded servers only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
    return env | {"ROOMCAST_DATA_DIR": str(data_dir)}


class DevProcess:
    """A running `roomcast dev` whose output is collected line by line."""

    def __init__(
        self, port: int, data_dir: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            [*roomcast_command(), "dev", "--port", str(port), "--data-dir", str(data_dir), *args],
            env=clean_env(data_dir) | (env or {}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.seen: dict[int, psutil.Process] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float, after: int = 0) -> None:
        """Wait for a line containing `needle` among the lines from index `after` on."""
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines[after:]):
            code = self.proc.poll()
            if code is not None:
                pytest.fail(f"roomcast dev exited with {code}:\n{self.output()}")
            if time.monotonic() >= deadline:
                pytest.fail(f"no {needle!r} within {timeout} s:\n{self.output()}")
            time.sleep(0.05)

    def note_descendants(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)

    def child(self, needle: str) -> psutil.Process:
        """The one live child process whose command line contains `needle`."""
        self.note_descendants()
        found = [
            p
            for p in psutil.Process(self.proc.pid).children()
            if any(needle in part for part in p.cmdline())
        ]
        assert len(found) == 1, (needle, found)
        return found[0]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for child in self.seen.values():
            with contextlib.suppress(psutil.Error):
                child.kill()
        self._reader.join(5)


@pytest.fixture
def dev(scratch_path: Path) -> Iterator[tuple[DevProcess, str, Path]]:
    port = free_port()
    running = DevProcess(port, scratch_path)
    try:
        yield running, f"http://127.0.0.1:{port}", scratch_path
    finally:
        running.close()


def mint(data_dir: Path, user: str, tenant: str) -> str:
    done = subprocess.run(
        [*roomcast_command(), "token", "--user", user, "--tenant", tenant, "--role", "member"],
        env=clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_all_gone(pids: Iterable[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = sorted(p for p in pids if not is_gone(p))
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if not is_gone(p)]
    return alive


def banner_token(running: DevProcess, data_dir: Path) -> str:
    """Run the `roomcast token ...` command the banner prints, from another directory."""
    line = next(line for line in running.lines if "token --user" in line)
    command = shlex.split("--user" + line.split(" token --user", 1)[1])
    env = {k: v for k, v in clean_env(data_dir).items() if k != "ROOMCAST_DATA_DIR"}
    done = subprocess.run(
        [*roomcast_command(), "token", *command],
        cwd=Path.cwd(),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout.strip()


async def test_dev_serves_a_direct_message_and_restarts_at_once_after_ctrl_c(
    dev: tuple[DevProcess, str, Path],
) -> None:
    running, url, data_dir = dev
    running.wait_for_line("Press Ctrl-C to stop.", timeout=90)
    assert any(line.rstrip().endswith(url) for line in running.lines), running.output()
    assert "\x1b" not in running.output()
    assert (data_dir / "jwt_secret").read_text().strip() not in running.output()
    running.note_descendants()

    tenant = unique("acme")
    alice = await connect(url, mint(data_dir, "alice", tenant))
    bob = await connect(url, mint(data_dir, "bob", tenant))
    # The banner's token command must reach this data directory's secret.
    carol = await connect(url, banner_token(running, data_dir))
    try:
        ack = await alice.call("chat:send", {"to": "bob", "body": "hi"})
        assert ack["ok"] is True, ack
        assert ack["id"]
        assert ack["ts"]
        message = await bob.wait_for("chat:message", lambda m: m["body"] == "hi")
        assert message["id"] == ack["id"]
        assert message["from"] == "alice"

        running.note_descendants()
        assert len(running.seen) >= 5, f"expected servers and services, saw {running.seen}"
        # Stopped with clients still connected: the gateway's port is left in TIME_WAIT.
        running.proc.send_signal(signal.SIGINT)
        assert running.proc.wait(30) == 0, running.output()
    finally:
        for client in (alice, bob, carol):
            await client.close()
    assert wait_all_gone(running.seen, timeout=10) == []
    assert not (data_dir / "dev.json").exists()

    again = DevProcess(int(url.rsplit(":", 1)[1]), data_dir)
    try:
        again.wait_for_line("Press Ctrl-C to stop.", timeout=90)
    finally:
        again.close()


def gateway_pid(data_dir: Path, name: str) -> int:
    ready = json.loads((data_dir / "run" / f"{name}.ready").read_text())
    return int(ready["pid"])


async def test_dev_restarts_a_killed_gateway_and_redis_while_the_rest_serve(
    scratch_path: Path,
) -> None:
    port, data_dir = free_port(), scratch_path
    # Presence bounds shortened as in the presence system tests: lease 2 s, beat 0.5 s.
    bounds = {
        "ROOMCAST_GATEWAY_LEASE_TTL": "2",
        "ROOMCAST_PRESENCE_BEAT_INTERVAL": "0.5",
        "ROOMCAST_PRESENCE_SWEEP_INTERVAL": "0.2",
    }
    running = DevProcess(port, data_dir, "--gateways", "2", env=bounds)
    first, second = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    tenant = unique("acme")
    clients = []
    try:
        running.wait_for_line("Press Ctrl-C to stop.", timeout=90)
        alice = await connect(first, mint(data_dir, "alice", tenant))
        bob = await connect(first, mint(data_dir, "bob", tenant))
        carol = await connect(second, mint(data_dir, "carol", tenant))
        clients += [alice, bob, carol]
        await alice.wait_for("user:online", lambda e: e["userId"] == "carol", timeout=15)

        mark = len(running.lines)
        os.kill(gateway_pid(data_dir, "gateway-2"), signal.SIGKILL)
        ack = await alice.call("chat:send", {"to": "bob", "body": "while gateway-2 is down"})
        assert ack["ok"] is True, ack
        await bob.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        offline = await alice.wait_for("user:offline", lambda e: e["userId"] == "carol", 2 + 15)
        assert offline["reason"] == "gateway_lost", offline
        running.wait_for_line("gateway-2 exited with code -9; restarting", 10, after=mark)
        running.wait_for_line("gateway-2 is ready again", timeout=60, after=mark)
        assert alice.sio.connected and bob.sio.connected

        carol = await connect(second, mint(data_dir, "carol", tenant))
        clients.append(carol)
        ack = await alice.call("chat:send", {"to": "carol", "body": "welcome back"})
        assert ack["ok"] is True, ack
        await carol.wait_for("chat:message", lambda m: m["id"] == ack["id"])

        mark = len(running.lines)
        redis = running.child("valkey-server")
        redis.kill()
        running.wait_for_line("redis exited with code -9; restarting", 10, after=mark)
        running.wait_for_line("redis is back at", timeout=30, after=mark)
        assert running.child("valkey-server").pid != redis.pid
        ack = await bob.call("chat:send", {"to": "carol", "body": "after redis"})
        assert ack["ok"] is True, ack
        await carol.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        deadline = time.monotonic() + 30
        while not (listed := await bob.call("presence:list")).get("ok"):
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.5)
        # Ctrl-C still stops everything, the restarted gateway and Redis included.
        running.note_descendants()
        running.proc.send_signal(signal.SIGINT)
        assert running.proc.wait(30) == 0, running.output()
        assert wait_all_gone(running.seen, timeout=10) == []
    finally:
        for client in clients:
            await client.close()
        running.close()


def test_dev_copes_with_a_killed_supervisor_and_gives_up_on_repeated_crashes(
    scratch_path: Path,
) -> None:
    port, data_dir = free_port(), scratch_path
    killed = DevProcess(port, data_dir)
    try:
        killed.wait_for_line("Press Ctrl-C to stop.", timeout=90)
        killed.note_descendants()
        killed.proc.kill()
        killed.proc.wait(10)
        assert (data_dir / "dev.json").exists()
        # Another terminal's command does not trust the stale dev.json.
        done = subprocess.run(
            [*roomcast_command(), "tenant", "show", "acme"],
            env=clean_env(data_dir),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 1
        assert "no running roomcast dev" in done.stderr, done.stderr

        json_logs = {"ROOMCAST_LOG_FORMAT": "json"}
        running = DevProcess(port, data_dir, "--max-crashes", "1", env=json_logs)
        try:
            running.wait_for_line("Press Ctrl-C to stop.", timeout=90)
            services = {json.loads(line)["service"] for line in running.lines}
            assert {"dev", "rooms", "gateway"} <= services, services
            assert "the previous roomcast dev" in running.output()
            assert wait_all_gone(killed.seen, timeout=1) == []
            running.note_descendants()
            running.child("services.rooms").kill()
            assert running.proc.wait(30) == 1, running.output()
            assert "rooms exited with code -9: 1 crash within 60 s, giving up" in running.output()
            assert wait_all_gone(running.seen, timeout=10) == []
            assert not (data_dir / "dev.json").exists()
        finally:
            running.close()
    finally:
        killed.close()


def test_dev_refuses_a_busy_gateway_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*roomcast_command(), "dev", "--port", str(port), "--data-dir", str(tmp_path)],
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert f"gateway port 127.0.0.1:{port} is not free" in done.stderr
    assert "--port" in done.stderr


async def test_dev_nats_cluster_keeps_messaging_through_a_killed_node(
    scratch_path: Path,
) -> None:
    port, data_dir = free_port(), scratch_path
    running = DevProcess(port, data_dir, "--gateways", "2", "--nats-cluster", "3")
    tenant = unique("acme")
    clients = []
    try:
        running.wait_for_line("Press Ctrl-C to stop.", timeout=120)
        assert any("embedded cluster of 3" in line for line in running.lines), running.output()
        alice = await connect(f"http://127.0.0.1:{port}", mint(data_dir, "alice", tenant))
        bob = await connect(f"http://127.0.0.1:{port + 1}", mint(data_dir, "bob", tenant))
        clients += [alice, bob]

        mark = len(running.lines)
        node = running.child("node-0")
        node.kill()
        running.wait_for_line("nats-1 exited with code -9; restarting", 15, after=mark)
        deadline = time.monotonic() + 30
        while not (ack := await alice.call("chat:send", {"to": "bob", "body": "on"}))["ok"]:
            assert ack["error"]["code"] == "UNAVAILABLE", ack
            assert time.monotonic() < deadline, ack
            await asyncio.sleep(0.2)
        await bob.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        running.wait_for_line("nats-1 is back at", timeout=30, after=mark)
        assert alice.sio.connected and bob.sio.connected
    finally:
        for client in clients:
            await client.close()
        running.close()
