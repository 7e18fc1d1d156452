"""Database schema migrations (Alembic): the one way every caller migrates.

`roomcast migrate`, `roomcast dev`, the test fixtures and the benchmarks all call
`migrate` (or `upgrade` from async code). Every service's tables live in one schema
history so that one call brings a database up to date. Migrations are hand-written;
each service reads its tables with SQLAlchemy Core definitions in its own `adapters`
package.
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


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision`.

    Blocks until done. The migration environment runs its own event loop, so call
    this outside one (from async code, await `upgrade`). Replicas migrating at the
    same time take turns (an advisory lock in `env.py`).
    """
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """`migrate`, from async code: runs it in a worker thread."""
    await asyncio.to_thread(migrate, database_url, revision)
