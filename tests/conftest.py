"""Fixtures for every test live in `tests/servers.py`."""

pytest_plugins = ["tests.servers", "tests.stack"]
