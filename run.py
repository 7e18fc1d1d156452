#!/usr/bin/env python3
"""The two set-up commands, with nothing but Python 3.11+ on the machine.

    python3 run.py dev [roomcast dev options]   # run the whole system
    python3 run.py test [pytest options]        # run the test suite
    python3 run.py lint                         # ruff check, ruff format --check, mypy
    python3 run.py bench [dm_compare options]   # DMs: roomcast vs python-socketio + Redis

Creates `.venv` and installs roomcast with its development extras on first use,
and again whenever `pyproject.toml` changes, then runs the command inside it.
`bench` also installs the `bench` extra (matplotlib, py-spy).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def _digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _installed() -> tuple[str, set[str]]:
    """The digest of `pyproject.toml` and the extras the stamp says were installed."""
    if not STAMP.exists():
        return "", set()
    digest, _, extras = STAMP.read_text().strip().partition(" ")
    return digest, set(filter(None, extras.split(",")))


def ensure_venv(extras: tuple[str, ...] = ("dev",)) -> None:
    """Create the virtual environment and install roomcast if it is missing or stale."""
    digest, installed = _installed()
    if digest == _digest() and set(extras) <= (installed or {"dev"}):
        return
    if digest == _digest():
        extras = tuple(sorted(installed | set(extras)))
    if not (BIN / "python").exists():
        print("creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing roomcast and its development tools into .venv", flush=True)
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            f".[{','.join(extras)}]",
        ],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_text(f"{_digest()} {','.join(extras)}")


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print("roomcast needs Python 3.11 or newer", file=sys.stderr)
        return 1
    if not argv or argv[0] not in {"dev", "test", "lint", "bench"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv(("bench", "dev") if command == "bench" else ("dev",))
    os.chdir(ROOT)
    if command == "bench":
        python = str(BIN / "python")
        os.execv(python, [python, "-m", "bench.dm_compare", *rest])
    if command == "dev":
        os.execv(BIN / "roomcast", [str(BIN / "roomcast"), "dev", *rest])
    if command == "test":
        os.execv(BIN / "pytest", [str(BIN / "pytest"), "-q", *rest])
    for step in (
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy", "contracts", "roomcast", "services"],
    ):
        code = subprocess.run([str(part) for part in step], check=False).returncode
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
