"""The README's room kind, as a newcomer runs it: `roomcast dev`, then `roomcast policy
serve examples.course_policy:CourseRoom` finding the system through dev.json."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from roomcast.dev.processes import child_options, stop_process
from roomcast.registry import READY_FILE_ENV
from tests.clients import connect
from tests.e2e.test_dev_command import DevProcess, clean_env, dev, mint, roomcast_command

pytestmark = pytest.mark.e2e
__all__ = ["dev"]


def policy(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*roomcast_command(), "policy", *args, "--data-dir", str(data_dir)],
        env=clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def serve_example(data_dir: Path) -> subprocess.Popen[bytes]:
    """`roomcast policy serve examples.course_policy:CourseRoom`, once it is ready."""
    ready = data_dir / "policy.ready"
    output = data_dir / "policy.log"
    with output.open("w") as log:
        worker = subprocess.Popen(
            [*roomcast_command(), "policy", "serve", "examples.course_policy:CourseRoom"],
            env=clean_env(data_dir) | {READY_FILE_ENV: str(ready)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **child_options(),
        )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_process(worker)
            pytest.fail(f"policy serve not ready:\n{output.read_text()}")
        time.sleep(0.05)
    return worker


async def test_the_readme_course_kind_joins_and_refuses(
    dev: tuple[DevProcess, str, Path],
) -> None:
    running, url, data_dir = dev
    running.wait_for_line("Press Ctrl-C to stop.", timeout=120)
    worker = await asyncio.to_thread(serve_example, data_dir)
    try:
        listed = policy(data_dir, "list")
        assert listed.returncode == 0, listed
        assert listed.stdout.splitlines()[1].startswith("course\tserving\t"), listed
        alice = await connect(url, mint(data_dir, "alice", "acme"))
        carol = await connect(url, mint(data_dir, "carol", "acme"))
        try:
            ack = await alice.call("room:join", {"kind": "course", "data": {"courseId": 42}})
            assert ack == {"ok": True, "room": "course:42", "role": "policy"}
            assert (await alice.call("course:join", 101))["ok"]
            refused = await carol.call("course:join", 42)
            assert refused["error"] == {
                "code": "FORBIDDEN",
                "message": "not enrolled in this course",
            }
            revoked = policy(data_dir, "revoke", "acme", "course", "42", "--user", "alice")
            assert revoked.returncode == 0, revoked
            left = await alice.wait_for("room:left")
            assert left == {"room": "course:42", "reason": "revoked"}
            assert stop_process(worker) == 0  # SIGTERM: a graceful stop
            gone = await alice.call("room:join", {"room": "course:7"})
            assert gone["error"]["code"] == "UNAVAILABLE", gone
        finally:
            await alice.close()
            await carol.close()
    finally:
        stop_process(worker)
