"""Service log lines as operators read them: one format, JSON on request, no colours."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.servers import ServiceProcess


def test_json_logs_are_one_object_per_line_from_every_logger(
    run_service: Callable[..., ServiceProcess], nats_url: str, database_url: str
) -> None:
    env = {
        "ROOMCAST_NATS_URL": nats_url,
        "ROOMCAST_DATABASE_URL": database_url,
        "ROOMCAST_LOG_FORMAT": "json",
        "ROOMCAST_LOG_LEVEL": "INFO",
    }
    rooms = run_service("rooms", env=env)
    assert rooms.stop() == 0
    output = rooms.output()
    assert "\x1b" not in output
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    for record in records:
        assert {"ts", "level", "service", "logger", "message"} <= set(record), record
        assert record["service"] == "rooms"
    loggers = {record["logger"] for record in records}
    assert "roomcast.platform.service" in loggers, loggers
    assert "roomcast.platform.listener" in loggers, loggers


def test_text_logs_share_one_format_without_colours(
    run_service: Callable[..., ServiceProcess], nats_url: str, database_url: str
) -> None:
    env = {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATABASE_URL": database_url}
    rooms = run_service("rooms", env={**env, "ROOMCAST_LOG_LEVEL": "INFO"})
    assert rooms.stop() == 0
    output = rooms.output()
    assert "\x1b" not in output
    ready = [line for line in output.splitlines() if line.endswith(" ready")]
    assert len(ready) == 1, output
    assert " rooms INFO roomcast.platform.service: rooms " in ready[0]
