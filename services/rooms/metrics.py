"""The rooms service's metrics: how long its explicit-room commands take, and how they end.

`roomcast_rooms_command_duration_seconds{command, outcome}` covers every explicit-room
endpoint (`rooms.create`, ..., `rooms.authorize`, `rooms.room_send`): `rooms.authorize`
is the time of a policy decision (may this identity read or post in a room). Outcomes
are `ok` or the refusal's error code; commands are the endpoints' fixed names.
"""

from __future__ import annotations

from typing import Any

from roomcast.platform.metrics import MetricSet


class RoomsMetrics(MetricSet):
    """Metrics of one rooms replica (with its entity consumer's dead letters, added by
    the app)."""

    def __init__(self) -> None:
        super().__init__()
        self._commands = self.histogram(
            "roomcast_rooms_command_duration_seconds",
            "Explicit-room commands served, by command and outcome (`ok` or the error code).",
            ["command", "outcome"],
        )
        self._children: dict[tuple[str, str], Any] = {}

    def command(self, name: str, outcome: str, seconds: float) -> None:
        """Observe one served command (`name` is an endpoint's name)."""
        child = self._children.get((name, outcome))
        if child is None:
            child = self._commands.labels(command=name, outcome=outcome)
            self._children[(name, outcome)] = child
        child.observe(seconds)
