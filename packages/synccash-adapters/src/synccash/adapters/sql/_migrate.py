"""Alembic, driven from code: `synccash migrate` and the embedded mode call these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from synccash.adapters.sql._engine import make_engine, unreachable

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An alembic.ini-free configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def is_known_revision(revision: str) -> bool:
    """True if this code ships a migration with that id."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _run_command(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def _run(url: str, action: str, revision: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        try:
            conn = await engine.connect()
        except (OSError, DBAPIError) as exc:
            raise unreachable(engine, exc) from exc
        try:
            async with conn.begin():
                await conn.run_sync(_run_command, action, revision)
        finally:
            await conn.close()
    finally:
        await engine.dispose()


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (default: the newest)."""
    await _run(url, "upgrade", revision)


async def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at `url` to `revision` ("base" drops everything)."""
    await _run(url, "downgrade", revision)


def _compare(connection: Connection) -> list[Any]:
    from alembic.autogenerate import compare_metadata  # noqa: PLC0415
    from alembic.migration import MigrationContext  # noqa: PLC0415

    from synccash.adapters.sql._tables import metadata  # noqa: PLC0415

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def schema_drift(url: str) -> list[Any]:
    """Differences between the migrated database at `url` and the table models (empty = none)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_compare)
    finally:
        await engine.dispose()
