"""`roomcast policy serve` as a child process, waited for through its ready file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from roomcast.dev.processes import child_options, stop_process
from roomcast.registry import READY_FILE_ENV


class PolicyProcess:
    """One policy worker serving `targets` (`module:Class`)."""

    def __init__(self, workdir: Path, name: str, targets: list[str], env: Mapping[str, str]):
        self.name = name
        self.targets = targets
        self.ready_file = workdir / f"{name}.ready"
        self.log = workdir / f"{name}.log"
        self.env = {**os.environ, **env, READY_FILE_ENV: str(self.ready_file)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PolicyProcess:
        self.ready_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "roomcast.cli", "policy", "serve", *self.targets]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*command, "--name", self.name],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **child_options(),
            )
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"policy worker {self.name} not ready:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL after `timeout`; the exit code."""
        if self.proc is None:
            return None
        return stop_process(self.proc, timeout=timeout)
