"""The deployment files: compose and every kustomization, checked by `deploy/check.py`
(schemas, references, probes, the restricted profile, real settings only)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_files_pass_their_checks() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "check.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("deploy files: ok")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH: kustomize builds were not checked")


def test_a_setting_misspelt_in_a_manifest_is_caught(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        import deploy.check as check
    finally:
        sys.path.remove(str(ROOT))
    check.problems.clear()
    check.check_variables("here", {"ROOMCAST_NATS_URL": "x", "ROOMCAST_NATS_URLS": "y"})
    assert check.problems == ["here: ROOMCAST_NATS_URLS is not a roomcast setting"]
    check.problems.clear()
