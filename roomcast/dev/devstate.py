"""The state file of a running `roomcast dev`, so commands in another terminal find it.

`roomcast dev` writes `<data_dir>/dev.json` (mode 0600: it holds the JWT secret)
once everything is ready, rewrites it when it restarts a part, and removes it when
it stops. A file whose supervisor process is gone (`kill -9`) is stale: commands
ignore it, and the next `roomcast dev` waits for the processes it lists to exit.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from roomcast.platform.settings import DEFAULT_DATA_DIR

STATE_FILE = "dev.json"
SECRET_FILE = "jwt_secret"  # noqa: S105 (a file name)
DATA_DIR_ENV = "ROOMCAST_DATA_DIR"


@dataclass(frozen=True)
class DevState:
    """What a running `roomcast dev` tells other commands."""

    pid: int
    nats_url: str
    database_url: str
    redis_url: str
    jwt_secret: str
    data_dir: str
    gateways: list[str] = field(default_factory=list)
    started: float = 0.0
    children: list[tuple[int, float]] = field(default_factory=list)
    """(pid, start time) of every server and service process."""


def process_started(pid: int) -> float:
    """The start time of process `pid` (0.0 if it does not run)."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def data_dir(flag: str | Path | None = None) -> Path:
    """The dev data directory: `flag`, else `$ROOMCAST_DATA_DIR`, else `.roomcast`."""
    chosen = flag or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().absolute()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def write(directory: Path, state: DevState) -> Path:
    """Write `dev.json` atomically with mode 0600.

    Args:
        directory: The dev data directory.
        state: What to record.

    Returns:
        The path written.
    """
    path = directory / STATE_FILE
    _write_private(path, json.dumps(asdict(state), indent=2) + "\n")
    return path


def same_process(pid: int, started: float) -> bool:
    """True if `pid` runs (not a zombie) and, when `started` is known, started then.

    The start time guards against a pid reused by an unrelated process.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return not started or abs(proc.create_time() - started) < 1.0
    except psutil.Error:
        return False


def load(directory: Path | None = None) -> DevState | None:
    """The contents of `dev.json`, whether or not its supervisor still runs."""
    path = (directory or data_dir()) / STATE_FILE
    try:
        raw = json.loads(path.read_text())
        raw["children"] = [(int(pid), float(t)) for pid, t in raw.get("children", [])]
        return DevState(**raw)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def is_running(state: DevState) -> bool:
    """True while the supervisor that wrote `state` runs."""
    return same_process(state.pid, state.started)


def read(directory: Path | None = None) -> DevState | None:
    """The state of the `roomcast dev` running on `directory`, or None.

    Args:
        directory: The dev data directory (default: `data_dir()`).

    Returns:
        The state, or None when there is no file, it is unreadable, or its
        supervisor process no longer runs.
    """
    state = load(directory)
    return state if state is not None and is_running(state) else None


def remove(directory: Path, pid: int | None = None) -> None:
    """Delete `dev.json` if it belongs to `pid` (default: this process)."""
    path = directory / STATE_FILE
    try:
        owner = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if owner == (pid or os.getpid()):
        path.unlink(missing_ok=True)


def load_or_create_secret(directory: Path) -> str:
    """The dev JWT secret kept in `<directory>/jwt_secret`, created on first use."""
    path = directory / SECRET_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) < 16:
        secret = secrets.token_urlsafe(32)
        _write_private(path, secret + "\n")
    return secret


def stored_secret(directory: Path) -> str | None:
    """The dev JWT secret in `<directory>/jwt_secret`, if one was created."""
    try:
        return (directory / SECRET_FILE).read_text().strip() or None
    except OSError:
        return None


def resolve(
    env: str,
    key: str,
    *,
    flag: str | None = None,
    default: str | None = None,
    directory: Path | None = None,
) -> str | None:
    """A setting for a CLI command: flag > env var > running dev's `dev.json` > default.

    Args:
        env: Environment variable, e.g. `ROOMCAST_NATS_URL`.
        key: `DevState` field, e.g. `nats_url`.
        flag: Value given on the command line, if any.
        default: Value when nothing else provides one.
        directory: The dev data directory (default: `data_dir()`).

    Returns:
        The first non-empty value found, or `default`.
    """
    if flag:
        return flag
    if os.environ.get(env):
        return os.environ[env]
    state = read(directory)
    value = getattr(state, key, None) if state is not None else None
    if isinstance(value, str) and value:
        return value
    return default
