"""`roomcast dev` as a developer runs it: embedded servers, real clients, Ctrl-C."""

from __future__ import annotations

import contextlib
import os
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

from roomcast.processes import free_port, is_gone
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

    def __init__(self, port: int, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [*roomcast_command(), "dev", "--port", str(port), "--data-dir", str(data_dir)],
            env=clean_env(data_dir),
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

    def wait_for_line(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
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


async def test_dev_serves_a_direct_message_and_stops_on_ctrl_c(
    dev: tuple[DevProcess, str, Path],
) -> None:
    running, url, data_dir = dev
    running.wait_for_line("Press Ctrl-C to stop.", timeout=90)
    assert any(line.rstrip().endswith(url) for line in running.lines), running.output()
    running.note_descendants()

    tenant = unique("acme")
    alice = await connect(url, mint(data_dir, "alice", tenant))
    bob = await connect(url, mint(data_dir, "bob", tenant))
    try:
        ack = await alice.call("chat:send", {"to": "bob", "body": "hi"})
        assert ack["ok"] is True, ack
        assert ack["id"]
        assert ack["ts"]
        message = await bob.wait_for("chat:message", lambda m: m["body"] == "hi")
        assert message["id"] == ack["id"]
        assert message["from"] == "alice"
    finally:
        await alice.close()
        await bob.close()

    running.note_descendants()
    assert len(running.seen) >= 5, f"expected servers and services, saw {running.seen}"
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(30) == 0, running.output()
    assert wait_all_gone(running.seen, timeout=10) == []
    assert not (data_dir / "dev.json").exists()


def test_dev_stops_everything_when_a_service_dies(dev: tuple[DevProcess, str, Path]) -> None:
    running, _, data_dir = dev
    running.wait_for_line("Press Ctrl-C to stop.", timeout=90)
    running.note_descendants()
    rooms = [p for p in running.seen.values() if p.cmdline()[-2:] == ["-m", "services.rooms"]]
    assert len(rooms) == 1, running.seen
    rooms[0].kill()
    assert running.proc.wait(30) == 1, running.output()
    assert "rooms exited with code -9" in running.output()
    assert wait_all_gone(running.seen, timeout=10) == []
    assert not (data_dir / "dev.json").exists()


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
