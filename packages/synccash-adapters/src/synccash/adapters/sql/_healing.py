"""Healing after lost database connections (a failover, a restart, terminated backends).

SQLAlchemy notices a lost connection on its own statements and invalidates its pool. The
fast paths send statements straight to asyncpg, past that machinery, so here is what they
need instead:

- `connection_lost(exc)` tells a lost or unusable connection (or a server that is shutting
  down or refusing connections) from one statement's own error;
- `unavailable(exc)` turns such an error into `DatabaseUnavailableError`, a
  `ConnectionError`: the API answers it with 503 + Retry-After, the worker retries;
- `discard_on_loss(conn)` invalidates the pooled connection a fast path used when its
  statement failed that way, so it is closed instead of going back to the pool;
- `heal_pool(engine)` checks on every checkout (no round trip) that asyncpg has not seen
  the server close the connection, and if it has, invalidates every pooled connection
  opened before now and connects again (so one terminated backend costs nobody a 500,
  and a pool full of them heals in one checkout).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class DatabaseUnavailableError(ConnectionError):
    """The database connection was lost or could not be opened: retry shortly."""


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` means the connection (or the server) is gone, not a statement's error."""
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError | asyncpg.DataError):
        return False  # a statement timeout or a bad value: the connection itself is fine
    return isinstance(
        exc,
        OSError
        | ConnectionError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError  # its protocol state is out of step with the server
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError,
    )


def unavailable(exc: Exception) -> Exception:
    """A lost connection as `DatabaseUnavailableError` (the cause kept); others unchanged."""
    if isinstance(exc, DatabaseUnavailableError) or not connection_lost(exc):
        return exc
    wrapped = DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


@asynccontextmanager
async def discard_on_loss(conn: AsyncConnection) -> AsyncIterator[None]:
    """Around statements sent to `conn`'s asyncpg connection directly: if one fails because
    the connection is lost, invalidate it (never back to the pool) and raise
    `DatabaseUnavailableError`."""
    try:
        yield
    except Exception as exc:
        if not connection_lost(exc):
            raise
        await conn.invalidate(exc)
        raise unavailable(exc) from exc


def _closed_by_server(dbapi_connection: Any) -> bool:
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    return callable(is_closed) and bool(is_closed())


def heal_pool(engine: AsyncEngine) -> None:
    """Discard connections the server closed, at checkout, and every older one with them."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _closed_by_server(dbapi_connection):
            # SQLAlchemy invalidates the pool's older connections and connects this one again
            raise InvalidatePoolError("the server closed this pooled connection")


__all__ = [
    "DatabaseUnavailableError",
    "connection_lost",
    "discard_on_loss",
    "heal_pool",
    "unavailable",
]
