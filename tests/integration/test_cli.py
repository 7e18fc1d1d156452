"""The `roomcast` command as a user runs it: a real process, real servers."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from roomcast.dev import devstate
from roomcast.dev.embedded import EmbeddedNats
from tests.servers import ServiceProcess

SECRET = "cli-test-secret-0123456789abcdef"
ROOMS_READY = importlib.util.find_spec("services.rooms.__main__") is not None


def roomcast(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `roomcast ARGS` with a clean `ROOMCAST_*` environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
    base |= {"ROOMCAST_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "roomcast.cli", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def mint(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    """`roomcast token` for alice@acme; asserts it printed exactly one token."""
    who = ("--user", "alice", "--tenant", "acme", "--role", "member")
    done = roomcast("token", *who, *extra, data_dir=data_dir, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0]


def test_token_carries_default_claims_and_lifetime(tmp_path: Path) -> None:
    before = int(time.time())
    token = mint(tmp_path, "--name", "Alice", "--ttl", "120", "--secret", SECRET)
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"require": ["exp", "iat", "sub"]}
    )
    assert claims["sub"] == "alice"
    assert claims["tenant"] == "acme"
    assert claims["role"] == "member"
    assert claims["name"] == "Alice"
    assert claims["exp"] - claims["iat"] == 120
    assert before <= claims["iat"] <= int(time.time())
    assert "aud" not in claims
    assert "iss" not in claims
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_token_follows_configured_claim_names_audience_and_issuer(tmp_path: Path) -> None:
    env = {
        "ROOMCAST_JWT_CLAIM_USER": "uid",
        "ROOMCAST_JWT_CLAIM_TENANT": "org",
        "ROOMCAST_JWT_CLAIM_ROLE": "kind",
        "ROOMCAST_JWT_CLAIM_NAME": "display",
        "ROOMCAST_JWT_AUDIENCE": "chat-app",
        "ROOMCAST_JWT_ISSUER": "https://auth.example",
    }
    token = mint(tmp_path, "--name", "Alice", "--secret", SECRET, env=env)
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="chat-app", issuer="https://auth.example"
    )
    assert (claims["uid"], claims["org"], claims["kind"]) == ("alice", "acme", "member")
    assert claims["display"] == "Alice"
    assert "sub" not in claims


def _running_dev(data_dir: Path, secret: str, pid: int) -> None:
    state = devstate.DevState(
        pid=pid,
        nats_url="nats://127.0.0.1:1",
        database_url="postgresql+asyncpg://x@127.0.0.1:1/z",
        redis_url="redis://127.0.0.1:1/0",
        jwt_secret=secret,
        data_dir=str(data_dir),
    )
    devstate.write(data_dir, state)


def _verifies(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.InvalidSignatureError:
        return False
    return True


def test_secret_comes_from_flag_then_env_then_running_dev(tmp_path: Path) -> None:
    dev_secret = "dev-json-secret-0123456789abcdef0123"
    env_secret = "env-var-secret-0123456789abcdef0123"
    _running_dev(tmp_path, dev_secret, pid=os.getpid())
    assert (tmp_path / devstate.STATE_FILE).stat().st_mode & 0o777 == 0o600

    assert _verifies(mint(tmp_path), dev_secret)
    env = {"ROOMCAST_JWT_SECRET": env_secret}
    assert _verifies(mint(tmp_path, env=env), env_secret)
    assert _verifies(mint(tmp_path, "--secret", SECRET, env=env), SECRET)


def test_stale_dev_state_is_ignored_for_the_stored_secret(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    _running_dev(tmp_path, "stale-secret-0123456789abcdef0123456", pid=gone.pid)
    stored = devstate.load_or_create_secret(tmp_path)
    assert _verifies(mint(tmp_path), stored)


def test_token_without_any_secret_fails_clearly(tmp_path: Path) -> None:
    done = roomcast("token", "--user", "a", "--tenant", "t", "--role", "member", data_dir=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "ROOMCAST_JWT_SECRET" in done.stderr


def test_tenant_show_fails_when_nothing_answers(
    embedded_nats: Callable[..., EmbeddedNats], tmp_path: Path
) -> None:
    # A private NATS: on a shared one, another rooms service may answer.
    nats_url = embedded_nats().url
    started = time.monotonic()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    done = roomcast("tenant", "show", tenant, "--nats-url", nats_url, data_dir=tmp_path)
    assert done.returncode == 1
    assert "is the rooms service running?" in done.stderr
    assert time.monotonic() - started < 20


def test_tenant_show_reports_an_unreachable_nats(tmp_path: Path) -> None:
    unreachable = "nats://127.0.0.1:1"
    done = roomcast("tenant", "show", "acme", "--nats-url", unreachable, data_dir=tmp_path)
    assert done.returncode == 1
    assert "cannot connect to NATS" in done.stderr


async def test_migrate_creates_the_schema(database_url: str, tmp_path: Path) -> None:
    done = roomcast("migrate", "--database-url", database_url, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(text("select version_num from alembic_version"))
            assert row.scalar_one_or_none()
    finally:
        await engine.dispose()


@pytest.mark.skipif(not ROOMS_READY, reason="services.rooms has no __main__ yet")
def test_tenant_set_and_show_round_trip_through_the_rooms_service(
    nats_url: str,
    database_url: str,
    run_service: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    migrated = roomcast("migrate", "--database-url", database_url, data_dir=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    urls = {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATABASE_URL": database_url}
    run_service("rooms", env=urls)
    tenant = f"t-{uuid.uuid4().hex[:8]}"

    shown = roomcast("tenant", "show", tenant, data_dir=tmp_path, env=urls)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["supervise_dms"] is False

    changed = roomcast("tenant", "set", tenant, "supervise_dms=true", data_dir=tmp_path, env=urls)
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["supervise_dms"] is True
    shown = roomcast("tenant", "show", tenant, data_dir=tmp_path, env=urls)
    assert json.loads(shown.stdout)["supervise_dms"] is True

    refused = roomcast("tenant", "set", tenant, "no_such_key=1", data_dir=tmp_path, env=urls)
    assert refused.returncode == 1
    assert tenant in refused.stderr
    assert refused.stdout == ""


def test_tenant_show_without_a_system_says_so_and_how_to_name_one(tmp_path: Path) -> None:
    done = roomcast("tenant", "show", "acme", data_dir=tmp_path)
    assert done.returncode == 1
    assert f"no running roomcast dev found in {tmp_path}" in done.stderr
    assert "--nats-url" in done.stderr
    assert "ROOMCAST_NATS_URL" in done.stderr


def test_tenant_show_ignores_a_stale_dev_json_and_names_it(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    _running_dev(tmp_path, "stale-secret-0123456789abcdef0123456", pid=gone.pid)
    done = roomcast("tenant", "show", "acme", data_dir=tmp_path)
    assert done.returncode == 1
    assert f"stale: supervisor pid {gone.pid} is gone" in done.stderr
    assert "cannot connect" not in done.stderr


def test_a_reused_pid_does_not_make_a_dev_json_live(tmp_path: Path) -> None:
    # This test process runs, but it is not the supervisor that wrote the file.
    state = devstate.DevState(
        pid=os.getpid(),
        nats_url="nats://127.0.0.1:1",
        database_url="postgresql+asyncpg://x@127.0.0.1:1/z",
        redis_url="redis://127.0.0.1:1/0",
        jwt_secret="x" * 32,
        data_dir=str(tmp_path),
        started=devstate.process_started(os.getpid()) - 3600,
    )
    devstate.write(tmp_path, state)
    assert devstate.load(tmp_path) == state
    assert devstate.read(tmp_path) is None


def _settings_lines(output: str) -> dict[str, str]:
    """`KEY=value` lines of `roomcast config`, unquoted as a shell would."""
    values = {}
    for line in output.splitlines():
        if line.startswith("ROOMCAST_"):
            key, _, value = line.partition("=")
            values[key] = " ".join(shlex.split(value)) if value else ""
    return values


def test_config_prints_values_the_settings_read_back(tmp_path: Path) -> None:
    env = {
        "ROOMCAST_JWT_SECRET": SECRET,
        "ROOMCAST_JWT_ALGORITHMS": "HS256,HS384",
        "ROOMCAST_CORS_ORIGINS": '["https://a.example", "https://b.example,x"]',
    }
    first = roomcast("config", "gateway", data_dir=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    printed = _settings_lines(first.stdout)
    assert printed["ROOMCAST_JWT_ALGORITHMS"] == "HS256,HS384"
    # Every printed value, pasted back, is accepted and reads the same.
    pasted = {k: v for k, v in printed.items() if k != "ROOMCAST_JWT_SECRET"}
    second = roomcast("config", "gateway", data_dir=tmp_path, env={**env, **pasted})
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_an_unknown_log_level_is_refused_by_name(tmp_path: Path) -> None:
    done = roomcast("config", "rooms", data_dir=tmp_path, env={"ROOMCAST_LOG_LEVEL": "verbose"})
    assert done.returncode == 2
    assert "ROOMCAST_LOG_LEVEL" in done.stderr
    assert "Traceback" not in done.stderr
    lower = roomcast("config", "rooms", data_dir=tmp_path, env={"ROOMCAST_LOG_LEVEL": "debug"})
    assert "ROOMCAST_LOG_LEVEL=DEBUG" in lower.stdout


def test_a_closed_pipe_ends_config_quietly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomcast.cli", "config", "rooms"],
        env=env | {"ROOMCAST_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head -1` exiting before roomcast writes
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert "BrokenPipe" not in err
