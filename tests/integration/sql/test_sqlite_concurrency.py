"""SQLite (the embedded default): concurrent units of work wait for the write lock, never corrupt."""

from __future__ import annotations

import asyncio

import pytest
from payments_factory import T0, make_payment
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from synccash.adapters.sql import SqlUnitOfWork, SqlUnitOfWorkFactory
from synccash.core.errors import ConcurrencyConflict
from synccash.core.payment import PaymentState

pytestmark = pytest.mark.integration


async def test_second_writer_waits_then_conflicts(sqlite_engine):
    """A writer that read before another committed gets ConcurrencyConflict, not SQLITE_BUSY."""
    async with SqlUnitOfWork(sqlite_engine) as uow:
        await uow.payments.add(make_payment("p1"))
        await uow.commit()
    first, second = SqlUnitOfWork(sqlite_engine), SqlUnitOfWork(sqlite_engine)
    async with first, second:
        mine = await first.payments.get("p1")
        theirs = await second.payments.get("p1")
        mine.transition(PaymentState.VALIDATING, T0, actor="first", reason="first")
        await first.payments.save(mine)
        theirs.cancel(T0, actor="second")
        blocked = asyncio.ensure_future(second.payments.save(theirs))
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await blocked

    async with SqlUnitOfWork(sqlite_engine) as uow:
        stored = await uow.payments.get("p1")
    assert (stored.state, stored.version) == (PaymentState.VALIDATING, 1)


async def test_concurrent_initiates_with_one_key_make_one_payment(sqlite_engine):
    """20 tasks racing on one idempotency key end with one payment."""
    factory = SqlUnitOfWorkFactory(sqlite_engine)

    async def initiate(i):
        try:
            async with factory() as uow:
                await uow.payments.add(make_payment(f"p{i}", key="race"))
                await uow.commit()
        except ConcurrencyConflict:
            pass
        async with factory() as uow:
            return (await uow.payments.get_by_idempotency_key("m1", "race")).id

    ids = await asyncio.gather(*(initiate(i) for i in range(20)))

    async with sqlite_engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM payments"))).scalar_one()
    assert count == 1
    assert len(set(ids)) == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE payment_events SET actor = 'mallory'", "DELETE FROM payment_events"]
)
async def test_audit_trail_is_append_only_on_sqlite_too(sqlite_engine, statement):
    """SQLite triggers refuse rewriting or deleting audit events as well."""
    async with SqlUnitOfWork(sqlite_engine) as uow:
        await uow.payments.add(make_payment("p1"))
        await uow.commit()

    with pytest.raises(DBAPIError, match="append-only"):
        async with sqlite_engine.begin() as conn:
            await conn.execute(text(statement))
