"""Databases for the persistence tests: a throwaway PostgreSQL database and SQLite files.

PostgreSQL comes from TEST_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
The run creates its own uniquely named database through the maintenance database and drops it
at the end. If PostgreSQL is unreachable the tests fail (never skip) and say how to start it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import define
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.memory.ledger import InMemoryLedger
from synccash.adapters.memory.repository import (
    InMemoryOutbox,
    InMemoryRiskContext,
    InMemoryStore,
    InMemoryUnitOfWorkFactory,
)
from synccash.adapters.sql import (
    SqlLedger,
    SqlOutbox,
    SqlRiskContext,
    SqlUnitOfWorkFactory,
    make_engine,
    migrate,
)

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
HOW_TO_START = (
    "PostgreSQL is not reachable at {url} ({error}). Start it with "
    "`pg_ctlcluster --skip-systemctl-redirect 15 main start` (or run `.ci/run`, which starts or "
    "installs it), or point TEST_DATABASE_URL at a running server."
)
TABLES = (
    "payments, payment_attempts, payment_events, outbox, webhook_deliveries, blocklist, "
    "api_keys, merchants, ledger_postings, ledger_entries, ledger_balances, webhook_endpoints, "
    "risk_reviews, risk_audit, statement_lines, reconciliation_runs, reconciliation_items"
)


def _admin_engine(url: str) -> AsyncEngine:
    return create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
    )


async def _create_database(base_url: str, name: str) -> None:
    admin = _admin_engine(base_url)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


async def _drop_database(base_url: str, name: str) -> None:
    admin = _admin_engine(base_url)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@define
class PgServer:
    """The PostgreSQL server under test: makes and drops throwaway databases."""

    base_url: str

    def url_for(self, name: str) -> str:
        """The URL of database `name` on this server."""
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def create(self, prefix: str) -> str:
        """Create an empty uniquely named database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        asyncio.run(_create_database(self.base_url, name))
        return self.url_for(name)

    def drop(self, url: str) -> None:
        """Drop the database at `url`."""
        asyncio.run(_drop_database(self.base_url, str(make_url(url).database)))


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The server at TEST_DATABASE_URL, or a failing test that says how to start it."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)

    async def ping() -> None:
        admin = _admin_engine(url)
        try:
            async with admin.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await admin.dispose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        pytest.fail(HOW_TO_START.format(url=url, error=exc), pytrace=False)
    return PgServer(url)


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """One migrated database for the whole run, dropped at the end."""
    url = pg_server.create("synccash_test")
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        pg_server.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
    return path


async def _truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        # test-only superuser override: replica mode does not fire the append-only triggers
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(f"TRUNCATE {TABLES}"))


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's PostgreSQL database, emptied before the test."""
    engine = make_engine(pg_url, pool_size=5, max_overflow=20)
    await _truncate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh copy of the migrated SQLite file."""
    path = tmp_path / "synccash.sqlite3"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}", pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@define
class Backend:
    """One implementation of the persistence ports, as the contract tests see it."""

    name: str
    uow: Any  # a UnitOfWorkFactory
    risk: Any  # a RiskContext with block()
    outbox: Any  # an Outbox
    block: Callable[[str, str], Awaitable[None]]
    ledger: Any = None  # the Ledger over the same store


def memory_backend() -> Backend:
    """The in-memory implementation."""
    store = InMemoryStore()
    risk = InMemoryRiskContext(store)

    async def block(key: str, reason: str) -> None:
        risk.block(key, reason)

    uow = InMemoryUnitOfWorkFactory(store)
    return Backend("memory", uow, risk, InMemoryOutbox(store), block, InMemoryLedger(store.books))


def sql_backend(name: str, engine: AsyncEngine, *, grouped: bool = False) -> Backend:
    """The SQL implementation on `engine`; `grouped`: as bootstrap composes it on PostgreSQL
    (group commit, and reads and risk signals through the group reader)."""
    uow = SqlUnitOfWorkFactory(engine, group_commit=grouped)
    risk = SqlRiskContext(engine, uow.reader)
    return Backend(name, uow, risk, SqlOutbox(engine), risk.block, SqlLedger(engine))


@pytest.fixture(params=["memory", "sqlite", "postgres", "postgres_grouped"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each implementation in turn: the contract suite runs on all of them."""
    if request.param == "memory":
        return memory_backend()
    if request.param == "sqlite":
        return sql_backend("sqlite", request.getfixturevalue("sqlite_engine"))
    if request.param == "postgres":
        return sql_backend("postgres", request.getfixturevalue("pg_engine"))
    grouped: Backend = request.getfixturevalue("grouped_pg_backend")
    return grouped


@pytest.fixture
async def grouped_pg_backend(pg_engine: AsyncEngine) -> AsyncIterator[Backend]:
    """PostgreSQL composed as bootstrap does it, its group connections closed after."""
    grouped = sql_backend("postgres", pg_engine, grouped=True)
    yield grouped
    await grouped.uow.aclose()
