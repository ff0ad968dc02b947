"""Engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the startup schema check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.settings import Settings
from synccash.adapters.sql._types import dumps

#: How long a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15_000


class DatabaseError(RuntimeError):
    """The database cannot be used as configured; the message says what to do."""


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached."""


class SchemaBehind(DatabaseError):
    """The database schema is older (or newer) than this code expects."""


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    """An AsyncEngine for `postgresql+asyncpg://…` or `sqlite+aiosqlite:///…`."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql+asyncpg":
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            json_serializer=dumps,
            connect_args={
                # tiny OLTP statements: JIT compilation only costs time
                "server_settings": {"application_name": "synccash", "jit": "off"},
                "prepared_statement_cache_size": 500,
            },
        )
    if parsed.drivername == "sqlite+aiosqlite":
        return _sqlite_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    raise DatabaseError(
        f"unsupported DATABASE_URL driver {parsed.drivername!r}: "
        "use postgresql+asyncpg://… or sqlite+aiosqlite:///…"
    )


def create_engine_from_settings(settings: Settings) -> AsyncEngine:
    """The engine DATABASE_URL and the pool settings describe."""
    return make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )


def _sqlite_engine(url: str, *, pool_size: int, max_overflow: int) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        json_serializer=dumps,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write unit of work
        # waits its turn instead of failing with SQLITE_BUSY half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _unreachable_hint(engine: AsyncEngine) -> str:
    if engine.dialect.name == "postgresql":
        return (
            "start PostgreSQL (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start` "
            "or `docker compose up -d postgres`) and check DATABASE_URL"
        )
    return "check that the directory of the SQLite file in DATABASE_URL is writable"


async def check_schema(engine: AsyncEngine) -> None:
    """Fail fast, with what to do, if the database is unreachable or its schema is not head."""
    from synccash.adapters.sql._migrate import head_revision  # noqa: PLC0415 (alembic is heavy)

    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        async with engine.connect() as conn:
            try:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except (OperationalError, ProgrammingError):
                current = None
    except (OSError, DBAPIError) as exc:
        raise DatabaseUnavailable(
            f"database at {safe_url} is unreachable ({exc.__class__.__name__}: {exc}); "
            + _unreachable_hint(engine)
        ) from exc
    head = head_revision()
    if current != head:
        raise SchemaBehind(
            f"database schema is behind: run `synccash migrate` "
            f"(database at {current or 'no schema'}, code expects {head})"
        )
