"""Engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the startup schema check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.settings import Settings
from synccash.adapters.sql._healing import heal_pool
from synccash.adapters.sql._types import dumps

#: How long a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: How long opening a PostgreSQL connection may take (asyncpg's default is 60 s: a server
#: that drops packets would hold every request that long instead of a quick 503).
CONNECT_TIMEOUT_S = 5.0
#: Statements that need the SQLite write lock, and where the transaction state is kept.
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})
_TX = "synccash_sqlite_tx"


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
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            json_serializer=dumps,
            # Bound values are payer MSISDNs and amounts: keep them out of error text and logs.
            hide_parameters=True,
            connect_args={
                # tiny OLTP statements: JIT compilation only costs time
                "server_settings": {"application_name": "synccash", "jit": "off"},
                "prepared_statement_cache_size": 500,
                "timeout": CONNECT_TIMEOUT_S,
            },
        )
        heal_pool(engine)  # the fast paths bypass SQLAlchemy's own disconnect handling
        return engine
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
        hide_parameters=True,  # no MSISDNs in error text or logs
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy must not let pysqlite open transactions implicitly: _on_execute does.
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

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _on_execute(
        conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        # Reads run in a deferred (snapshot) transaction, so they never wait for a writer.
        # The first write swaps that read-only transaction for BEGIN IMMEDIATE, which waits
        # for the write lock (busy_timeout) instead of failing with SQLITE_BUSY when another
        # writer committed since our snapshot; optimistic versions make the swap safe.
        state = conn.info.get(_TX)
        words = statement.split(None, 1)
        if words and words[0].upper() in _WRITES:
            if state != "write":
                if state == "read":
                    cursor.execute("COMMIT")
                cursor.execute("BEGIN IMMEDIATE")
                conn.info[_TX] = "write"
        elif state is None:
            cursor.execute("BEGIN")
            conn.info[_TX] = "read"

    def _ended(conn: Any, *_args: Any) -> None:
        conn.info.pop(_TX, None)

    event.listen(engine.sync_engine, "commit", _ended)
    event.listen(engine.sync_engine, "rollback", _ended)

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _on_reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:  # noqa: ARG001 (SQLAlchemy matches the names)
        connection_record.info.pop(_TX, None)

    return engine


def _unreachable_hint(engine: AsyncEngine) -> str:
    if engine.dialect.name == "postgresql":
        return (
            "start PostgreSQL (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start` "
            "or `docker compose up -d postgres`) and check DATABASE_URL"
        )
    return "check that the directory of the SQLite file in DATABASE_URL is writable"


def unreachable(engine: AsyncEngine, exc: BaseException) -> DatabaseUnavailable:
    """The error to raise when connecting to `engine` failed with `exc`."""
    safe_url = engine.url.render_as_string(hide_password=True)
    return DatabaseUnavailable(
        f"database at {safe_url} is unreachable ({exc.__class__.__name__}: {exc}); "
        + _unreachable_hint(engine)
    )


async def check_schema(engine: AsyncEngine) -> None:
    """Fail fast, with what to do, if the database is unreachable or its schema is not head."""
    from synccash.adapters.sql._migrate import (  # noqa: PLC0415 (alembic is heavy)
        head_revision,
        is_known_revision,
    )

    try:
        async with engine.connect() as conn:
            try:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except (OperationalError, ProgrammingError):
                current = None
    except (OSError, DBAPIError) as exc:
        raise unreachable(engine, exc) from exc
    head = head_revision()
    if current is not None and current != head and not is_known_revision(current):
        raise SchemaBehind(
            f"database schema {current} is newer than this code (which knows up to {head}): "
            "deploy the matching release, or `synccash migrate --downgrade` with the newer one"
        )
    if current != head:
        raise SchemaBehind(
            f"database schema is behind: run `synccash migrate` "
            f"(database at {current or 'no schema'}, code expects {head})"
        )
