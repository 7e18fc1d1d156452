"""Every roomcast service in one place: its name, module, settings and readiness.

The `roomcast` command, `roomcast dev`, `deploy/check.py` and the service runner
(`roomcast.dev.service_process`, used by tests and benchmarks) read this list instead
of keeping their own. Adding a service means one entry here (and its deployment
files).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic_settings import BaseSettings

from roomcast.platform.runtime import READY_FILE_ENV

__all__ = ["LIVE_PATH", "READY_FILE_ENV", "READY_PATH", "SERVICES", "Service", "get", "names"]

LIVE_PATH = "/healthz"
"""The process is alive (liveness and start-up probes)."""

READY_PATH = "/readyz"
"""Its NATS, PostgreSQL and Redis dependencies answer (readiness probes)."""


@dataclass(frozen=True)
class Service:
    """One service: `python -m <module>` or `roomcast <name>`.

    Attributes:
        name: Command and process name, e.g. `rooms`.
        module: Package run with `python -m`, e.g. `services.rooms`.
        settings: Its settings class as `module:Class`.
        listens: True if it serves HTTP/Socket.IO on `ROOMCAST_PORT` (one port per
            replica); the others only talk over NATS.

    Every service serves `LIVE_PATH`, `READY_PATH` and `/metrics` on its internal
    health listener (`ROOMCAST_HEALTH_PORT`), and creates `$ROOMCAST_READY_FILE`
    (if set) once it serves.
    """

    name: str
    module: str
    settings: str
    listens: bool = False

    def settings_class(self) -> type[BaseSettings]:
        """Import and return the settings class."""
        module, _, cls = self.settings.partition(":")
        found: type[BaseSettings] = getattr(importlib.import_module(module), cls)
        return found


SERVICES: tuple[Service, ...] = (
    Service("rooms", "services.rooms", "services.rooms.settings:RoomsSettings"),
    Service("presence", "services.presence", "services.presence.settings:PresenceSettings"),
    Service(
        "persistence", "services.persistence", "services.persistence.settings:PersistenceSettings"
    ),
    Service(
        "gateway",
        "services.gateway",
        "services.gateway.settings:GatewaySettings",
        listens=True,
    ),
)
"""In start-up order: the services the gateways call come first."""


def get(name: str) -> Service:
    """The service called `name`.

    Raises:
        KeyError: No such service (the message lists the known ones).
    """
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(f"no service {name!r}; known: {', '.join(names())}")


def names() -> tuple[str, ...]:
    """Every service name, in start-up order."""
    return tuple(service.name for service in SERVICES)
