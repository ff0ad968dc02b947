"""SqlUnitOfWork: one database transaction per use-case call."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.sql._repository import SqlPaymentRepository, WriteTracker


class SqlUnitOfWork:
    """State, attempts, events and outbox rows commit together or not at all."""

    payments: SqlPaymentRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._tracker = WriteTracker()

    async def __aenter__(self) -> Self:
        """Check out a connection; the transaction begins with the first statement."""
        self._conn = await self._engine.connect()
        self.payments = SqlPaymentRepository(self._conn, self._tracker)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed and return the connection."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self.rollback_on(conn)
        finally:
            await conn.close()

    async def rollback_on(self, conn: AsyncConnection) -> None:
        """Roll back `conn` if it is inside a transaction."""
        self.payments.discard_deferred()
        if conn.in_transaction():
            await conn.rollback()
        self._tracker.rolled_back()

    async def commit(self) -> None:
        """Commit; only then are the written events no longer `new_events`."""
        try:
            if not await self.payments.commit_deferred_alone():
                await self.payments.flush()
                await self._connection.commit()
        except BaseException:
            await self.rollback_on(self._connection)
            raise
        self._tracker.committed()

    async def rollback(self) -> None:
        """Discard everything written since the last commit."""
        await self.rollback_on(self._connection)

    @property
    def _connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._conn


class SqlUnitOfWorkFactory:
    """UnitOfWorkFactory: a fresh SqlUnitOfWork per call, sharing one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        """A new unit of work."""
        return SqlUnitOfWork(self.engine)
