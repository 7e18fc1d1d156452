"""Log formatting: masking, JSON shape, escape codes."""

from __future__ import annotations

import json
import logging
import sys

from roomcast.platform.logs import JsonFormatter, Redactor, TextFormatter

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SECRET = "dev-secret-0123456789abcdef"


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError(f"failed with {SECRET}")
        except RuntimeError:
            info = sys.exc_info()
    return logging.LogRecord("services.x", logging.ERROR, __file__, 1, message, args, info)


def test_tokens_url_passwords_and_secrets_are_masked() -> None:
    redact = Redactor([SECRET], strip_ansi=True)
    text = redact(f"auth {TOKEN} via redis://user:hunter2@db:6379/0 key {SECRET}")
    assert TOKEN not in text and "hunter2" not in text and SECRET not in text
    assert "redis://user:***@db:6379/0" in text


def test_json_lines_carry_the_fields_and_the_masked_traceback() -> None:
    formatter = JsonFormatter("rooms", Redactor([SECRET], strip_ansi=True))
    line = formatter.format(_record("token %s \x1b[32mok\x1b[0m", TOKEN, exc=True))
    assert "\n" not in line
    record = json.loads(line)
    assert record["service"] == "rooms"
    assert record["logger"] == "services.x"
    assert record["level"] == "ERROR"
    assert record["message"] == "token *** ok"
    assert "RuntimeError: failed with ***" in record["exc"]
    assert record["ts"].endswith("+00:00")


def test_text_lines_keep_escape_codes_only_for_a_terminal() -> None:
    record = _record("\x1b[32mINFO\x1b[0m started")
    plain = TextFormatter("rooms", Redactor([], strip_ansi=True)).format(record)
    assert plain.endswith(" rooms ERROR services.x: INFO started")
    coloured = TextFormatter("rooms", Redactor([], strip_ansi=False)).format(record)
    assert "\x1b[32m" in coloured
