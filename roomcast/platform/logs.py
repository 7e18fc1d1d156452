"""One log line format for every logger in a service process.

`text` (the default) is `time service LEVEL logger: message`; `json` writes one
object per line with `ts`, `level`, `service`, `logger`, `message` and, when there
is one, `exc` (the traceback). Every record goes through one handler on stdout:
ours, uvicorn's (which installs coloured handlers of its own) and any library's. Escape
sequences are stripped when stdout is not a terminal, and tokens, URL passwords and
the configured JWT secret are masked in every line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

FORMATS = ("text", "json")
FORMAT_ENV = "ROOMCAST_LOG_FORMAT"
# Loggers that libraries give their own handlers; theirs go, ours serves them.
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
SECRET_ENVS = ("ROOMCAST_JWT_SECRET",)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)


class Redactor:
    """Masks what must never reach a log: JWTs, URL passwords, configured secrets."""

    def __init__(self, secrets: list[str], strip_ansi: bool) -> None:
        self.secrets = [s for s in secrets if len(s) >= 8]
        self.strip_ansi = strip_ansi

    def __call__(self, text: str) -> str:
        """`text` with secrets replaced by `***` (and escape sequences removed)."""
        if self.strip_ansi:
            text = strip_ansi(text)
        text = _JWT.sub("***", text)
        text = _URL_PASSWORD.sub(r"\1***@", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences (colours)."""
    return _ANSI.sub("", text)


def _message(record: logging.LogRecord) -> str:
    """The record's message with its arguments."""
    return record.getMessage()


class TextFormatter(logging.Formatter):
    """`2026-01-01 12:00:00,000 rooms INFO services.rooms.app: message`."""

    def __init__(self, service: str, redact: Redactor) -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """One line (plus a traceback, if any), masked."""
        record.message = _message(record)
        record.asctime = self.formatTime(record)
        line = self.formatMessage(record)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, message[, fields][, exc].

    `fields` is the record's `extra={"fields": {...}}` mapping, when it has one (the
    security events' structured fields)."""

    def __init__(self, service: str, redact: Redactor) -> None:
        super().__init__()
        self.service = service
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, masked."""
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": self.redact(_message(record)),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out["fields"] = {
                k: self.redact(v) if isinstance(v, str) else v for k, v in fields.items()
            }
        if record.exc_info:
            out["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure(
    level: str, service: str, fmt: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger of this process through one masked handler.

    Args:
        level: Lowest level written, e.g. `INFO`.
        service: Name in every line (`rooms`, `gateway`, ...).
        fmt: `text` or `json` (default: `$ROOMCAST_LOG_FORMAT`, else `text`).
        stream: Where lines go (default: stdout).

    Returns:
        The handler installed on the root logger.
    """
    chosen = (fmt or os.environ.get(FORMAT_ENV) or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"{FORMAT_ENV}: expected one of {', '.join(FORMATS)}, got {chosen!r}")
    out = stream or sys.stdout
    redact = Redactor(
        [os.environ.get(name, "") for name in SECRET_ENVS], strip_ansi=not _is_tty(out)
    )
    formatter: logging.Formatter = (
        JsonFormatter(service, redact) if chosen == "json" else TextFormatter(service, redact)
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        # uvicorn gives these loggers handlers of its own and stops propagation:
        # give them ours.
        library = logging.getLogger(name)
        library.handlers[:] = [handler] if out is sys.stdout else []
        library.propagate = out is not sys.stdout
    return handler


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
