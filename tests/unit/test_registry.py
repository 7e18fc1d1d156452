"""The service registry matches the code it names."""

from __future__ import annotations

import importlib.util

import pytest
from pydantic_settings import BaseSettings

from roomcast import registry
from roomcast.cli import build_parser


@pytest.mark.parametrize("service", registry.SERVICES, ids=registry.names())
def test_every_service_has_a_main_and_a_settings_class(service: registry.Service) -> None:
    assert importlib.util.find_spec(f"{service.module}.__main__") is not None
    assert issubclass(service.settings_class(), BaseSettings)


def test_the_cli_offers_every_service_as_a_command_and_a_config_target() -> None:
    parser = build_parser()
    for name in registry.names():
        assert parser.parse_args([name]).command == name
        assert parser.parse_args(["config", name]).service == name


def test_an_unknown_service_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: rooms, presence, persistence, gateway"):
        registry.get("chat")
