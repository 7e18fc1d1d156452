"""Database schema migrations (Alembic), applied by `roomcast migrate`.

Every service's tables live in one schema history so that one command brings a
database up to date. Migrations are hand-written; each service reads its tables with
SQLAlchemy Core definitions in its own `adapters` package.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at this package, for `database_url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision`."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
