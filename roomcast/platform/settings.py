"""Settings shared by every roomcast service (environment prefix `ROOMCAST_`).

Each service extends `CommonSettings` with its own fields. Settings are validated at
start-up; `load_settings` turns a validation error into one message that names the
offending `ROOMCAST_*` variable, and `describe` prints the effective configuration
with secrets masked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ROOMCAST_"
DEFAULT_DATA_DIR = Path(".roomcast")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FIELDS = frozenset({"jwt_secret", "database_url", "redis_url", "nats_url"})


def _split_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
"""A list read from the environment as `a,b,c` or as a JSON array."""


class CommonSettings(BaseSettings):
    """Connection settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server (JetStream enabled), or several servers of one cluster "
        "separated by commas (`nats://a:4222,nats://b:4222`): the client connects to one "
        "and fails over to the others.",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL, as a SQLAlchemy URL with the asyncpg driver.",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis (presence).")
    nats_tls_ca: Path | None = Field(
        default=None, description="CA certificate(s) to verify the NATS servers with (enables TLS)."
    )
    nats_tls_cert: Path | None = Field(
        default=None, description="Client certificate for NATS (mutual TLS); with the key."
    )
    nats_tls_key: Path | None = Field(default=None, description="Key of `nats_tls_cert`.")
    nats_creds: Path | None = Field(
        default=None, description="NATS credentials file (user JWT and NKey seed, `.creds`)."
    )
    nats_nkey: Path | None = Field(default=None, description="File holding an NKey seed.")
    database_tls_ca: Path | None = Field(
        default=None, description="CA certificate(s) to verify PostgreSQL with (enables TLS)."
    )
    database_tls_cert: Path | None = Field(
        default=None, description="Client certificate for PostgreSQL; with the key."
    )
    database_tls_key: Path | None = Field(default=None, description="Key of `database_tls_cert`.")
    redis_tls_ca: Path | None = Field(
        default=None, description="CA certificate(s) to verify Redis with (`rediss://` URLs)."
    )
    redis_tls_cert: Path | None = Field(
        default=None, description="Client certificate for Redis; with the key."
    )
    redis_tls_key: Path | None = Field(default=None, description="Key of `redis_tls_cert`.")
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Directory for `roomcast dev` state and data."
    )
    log_level: str = Field(
        default="INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines: `text` (time service LEVEL logger: message) or `json` "
        "(one object per line: ts, level, service, logger, message, exc).",
    )
    instance_id: str = Field(
        default="", description="Name of this replica in logs and leases (default: host-pid)."
    )
    stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Replicas of every JetStream stream roomcast creates: 1 on one NATS "
        "server, 3 on a three-node cluster (an acked message then survives the loss of "
        "a server). Changing it changes existing streams in place.",
    )
    health_host: str = Field(
        default="127.0.0.1",
        description="Interface of the health and metrics listener (`/healthz`, `/readyz`, "
        "`/metrics`); 0.0.0.0 in containers, so that probes and scrapers reach it.",
    )
    health_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the health and metrics listener; 0 = a free port, written into "
        "the ready file as `health_port` (9100 in the image's deployments).",
    )

    @field_validator(
        "nats_tls_ca",
        "nats_tls_cert",
        "nats_tls_key",
        "nats_creds",
        "nats_nkey",
        "database_tls_ca",
        "database_tls_cert",
        "database_tls_key",
        "redis_tls_ca",
        "redis_tls_cert",
        "redis_tls_key",
    )
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _cert_with_key(self) -> CommonSettings:
        for name in ("nats", "database", "redis"):
            cert, key = getattr(self, f"{name}_tls_cert"), getattr(self, f"{name}_tls_key")
            if (cert is None) != (key is None):
                raise ValueError(
                    f"set both {ENV_PREFIX}{name.upper()}_TLS_CERT and {ENV_PREFIX}"
                    f"{name.upper()}_TLS_KEY, or neither"
                )
        return self

    @field_validator("nats_url")
    @classmethod
    def _some_server(cls, value: str) -> str:
        nats_servers(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level


S = TypeVar("S", bound=BaseSettings)


def nats_servers(url: str) -> list[str]:
    """The servers of `ROOMCAST_NATS_URL`: one URL, or several separated by commas.

    Raises:
        ValueError: no server is named.
    """
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("names no NATS server")
    return servers


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment, or exit with a message naming the setting."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"{ENV_PREFIX}{field.upper()}" if field else cls.__name__
            lines.append(f"  {name}: {err['msg']}")
        print("roomcast: invalid settings\n" + "\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def describe(settings: BaseSettings) -> dict[str, object]:
    """The effective configuration, secrets masked, for `--print-config`."""
    out: dict[str, object] = {}
    for name, value in settings.model_dump().items():
        key = f"{ENV_PREFIX}{name.upper()}"
        if name in SECRET_FIELDS and value:
            text = str(value)
            out[key] = (
                ",".join(_mask_url(part) if "://" in part else "***" for part in text.split(","))
                if "://" in text
                else "***"
            )
        elif isinstance(value, (int, float, bool, type(None))):
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [str(item) for item in value]
        elif isinstance(value, dict):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def env_value(value: object) -> str | None:
    """`value` written the way the settings parser reads it back, or None when unset.

    Booleans are `true`/`false`; lists are comma-separated (a JSON array when an item
    holds a comma); everything else is its text.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        items = [str(item) for item in value]
        if any("," in item or item != item.strip() for item in items):
            return json.dumps(items)
        return ",".join(items)
    return str(value)


def _mask_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
    return url
