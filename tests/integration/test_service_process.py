"""The one service runner (`roomcast.dev.service_process`): readiness, output, stopping."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomcast.dev.service_process import ServiceNotReady, ServiceProcess
from roomcast.migrations import migrate


def test_a_service_that_exits_before_ready_raises_with_its_output(tmp_path: Path) -> None:
    proc = ServiceProcess("rooms", tmp_path, {"ROOMCAST_LOG_LEVEL": "verbose"})
    with pytest.raises(ServiceNotReady, match="rooms exited with 2 before ready") as caught:
        proc.start(timeout=60)
    assert "ROOMCAST_LOG_LEVEL" in str(caught.value)
    assert "ROOMCAST_LOG_LEVEL" in proc.output()
    assert not proc.running


def test_output_can_go_to_a_callback(tmp_path: Path, nats_url: str, database_url: str) -> None:
    migrate(database_url)
    lines: list[str] = []
    env = {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATABASE_URL": database_url}
    proc = ServiceProcess(
        "rooms", tmp_path, {**env, "ROOMCAST_LOG_LEVEL": "INFO"}, log=lines.append
    )
    proc.start(timeout=60)
    try:
        assert proc.running and proc.ready
        assert proc.health_url.startswith("http://")
    finally:
        assert proc.stop() == 0
    assert lines, "no output reached the callback"
    assert proc.output().splitlines() == lines[-len(proc.output().splitlines()) :]
    assert not (tmp_path / "rooms.log").exists()
