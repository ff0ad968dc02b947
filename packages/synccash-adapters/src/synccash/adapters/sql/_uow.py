"""SqlUnitOfWork: one database transaction per use-case call."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.engines.group import GroupCommitter, GroupReader
from synccash.adapters.engines.pgfast import compile_load_many
from synccash.adapters.failures import FailureLog
from synccash.adapters.sql._ledger import ledger_refusal
from synccash.adapters.sql._repository import SqlPaymentRepository, WriteTracker


class SqlUnitOfWork:
    """State, attempts, events and outbox rows commit together or not at all.

    The pooled connection is checked out on the unit's first statement (a unit that only
    adds a payment with group commit never needs one).
    """

    payments: SqlPaymentRepository

    def __init__(
        self,
        engine: AsyncEngine,
        group: GroupCommitter | None = None,
        reader: GroupReader | None = None,
    ) -> None:
        self._engine = engine
        self._group = group
        self._reader = reader
        self._tracker = WriteTracker()
        self._entered = False

    async def __aenter__(self) -> Self:
        """Start the unit; the transaction begins with the first statement."""
        self.payments = SqlPaymentRepository(self._engine, self._tracker, self._group, self._reader)
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed and return the connection."""
        if not self._entered:
            return
        self._entered = False
        conn = self.payments.connection
        try:
            await self._rollback()
        finally:
            if conn is not None:
                await conn.close()

    async def _rollback(self) -> None:
        """Roll back the unit's transaction, if any, and forget what it wrote."""
        self.payments.discard_deferred()
        conn = self.payments.connection
        if conn is not None and conn.in_transaction():
            await conn.rollback()
        self._tracker.rolled_back()

    async def commit(self) -> None:
        """Commit; only then are the written events no longer `new_events`."""
        self._check_entered()
        try:
            if not await self.payments.commit_deferred_alone():
                await self.payments.flush()
                conn = self.payments.connection
                if conn is not None:
                    await conn.commit()
        except DBAPIError as exc:
            await self._rollback()
            # the ledger's deferred checks run at commit (PostgreSQL)
            refusal = ledger_refusal(exc)
            if refusal is None:
                raise
            raise refusal from exc
        except BaseException:
            await self._rollback()
            raise
        self._tracker.committed()

    async def rollback(self) -> None:
        """Discard everything written since the last commit."""
        self._check_entered()
        await self._rollback()

    def _check_entered(self) -> None:
        if not self._entered:
            raise RuntimeError("use the unit of work inside `async with`")


class SqlUnitOfWorkFactory:
    """UnitOfWorkFactory: a fresh SqlUnitOfWork per call, sharing one engine.

    With `group_commit=True` (PostgreSQL), lone writes committed by concurrent units are
    sent in batches, one transaction per batch (see `GroupCommitter`), and so are their reads
    of a payment by id (see `GroupReader`); call `aclose()`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        group_commit: bool = False,
        failures: FailureLog | None = None,
    ) -> None:
        self.engine = engine
        postgres = engine.dialect.name == "postgresql"
        self.group = (
            GroupCommitter(engine, failures=failures) if group_commit and postgres else None
        )
        self.reader = (
            GroupReader(engine, compile_load_many(engine.dialect).sql, "id", failures=failures)
            if self.group is not None
            else None
        )

    def __call__(self) -> SqlUnitOfWork:
        """A new unit of work."""
        return SqlUnitOfWork(self.engine, self.group, self.reader)

    async def aclose(self) -> None:
        """Close the group committer's and reader's connections, if any."""
        if self.group is not None:
            await self.group.aclose()
        if self.reader is not None:
            await self.reader.aclose()
