"""The stores a benchmark runs on: a throwaway PostgreSQL database and a Redis database.

BENCH_PG_URL names the server (an admin database on it), BENCH_DATABASE the database a
benchmark creates, migrates and drops, BENCH_REDIS_URL the Redis database it flushes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Final

import asyncpg
from redis import Redis
from sqlalchemy.engine import make_url

PG_BASE: Final = os.environ.get(
    "BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL: Final = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BENCH_DB: Final = os.environ.get("BENCH_DATABASE", "synccash_bench")


def dsn(url: str) -> str:
    """The libpq form of an SQLAlchemy URL (asyncpg, pgbench)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str, attempts: int = 20) -> asyncpg.Connection:
    """asyncpg connection; retries while the server is out of connection slots (shared box)."""
    for attempt in range(attempts):
        try:
            return await asyncpg.connect(dsn(url))
        except asyncpg.TooManyConnectionsError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError  # unreachable


async def admin_sql(statement: str, url: str = PG_BASE) -> None:
    """Run one statement on the admin database (CREATE / DROP DATABASE)."""
    conn = await connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def bench_database_url() -> str:
    """SQLAlchemy URL of the bench database."""
    return make_url(PG_BASE).set(database=BENCH_DB).render_as_string(hide_password=False)


async def fresh_database() -> str:
    """Drop and create the bench database, migrate it; its URL."""
    from synccash.adapters.sql import migrate  # noqa: PLC0415  (alembic is heavy)

    await admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    await admin_sql(f'CREATE DATABASE "{BENCH_DB}"')
    url = bench_database_url()
    await migrate(url)
    return url


def drop_database() -> None:
    """Remove the bench database."""
    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))


async def backend_pids(database_url: str) -> list[int]:
    """PostgreSQL backends serving the database (their CPU is the database's share)."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def commits(database_url: str) -> int:
    """Committed transactions of the database so far (pg_stat_database)."""
    conn = await connect(database_url)
    try:
        value = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def flush_redis(url: str = REDIS_URL) -> None:
    """Empty the bench Redis database."""
    client = Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def local_redis_pid(url: str = REDIS_URL) -> int:
    """The Redis server's pid from INFO, if that process is on this machine (else 0)."""
    client = Redis.from_url(url)
    try:
        pid = int(client.info("server").get("process_id", 0))
    finally:
        client.close()
    return pid if pid and Path(f"/proc/{pid}/stat").exists() else 0
