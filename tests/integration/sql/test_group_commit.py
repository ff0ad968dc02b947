"""PostgreSQL group commit: concurrent new payments share batches; each caller sees its own result."""

from __future__ import annotations

import asyncio

import pytest
from payments_factory import make_payment
from sqlalchemy import text

from synccash.adapters.sql import SqlUnitOfWorkFactory
from synccash.core.errors import ConcurrencyConflict

pytestmark = pytest.mark.integration


async def _count(engine, sql):
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def _add(factory, payment):
    async with factory() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment.id


async def test_concurrent_new_payments_are_batched_and_all_committed(pg_engine):
    """200 concurrent initiates: every one is stored with its event and outbox row, in fewer
    round trips than payments."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        ids = await asyncio.gather(
            *(_add(factory, make_payment(f"g{i}", key=f"k{i}")) for i in range(200))
        )
        group = factory.group
        assert group is not None
        assert group.statements == 200
        assert group.batches < 200  # some shared a round trip and a commit
    finally:
        await factory.aclose()

    assert sorted(ids) == sorted(f"g{i}" for i in range(200))
    assert await _count(pg_engine, "SELECT count(*) FROM payments") == 200
    assert await _count(pg_engine, "SELECT count(*) FROM payment_events") == 200
    assert await _count(pg_engine, "SELECT count(*) FROM outbox") == 200


async def test_a_duplicate_key_in_a_batch_fails_only_its_own_caller(pg_engine):
    """One idempotency key used by 10 of 60 concurrent initiates: one of those 10 wins, the
    other 9 get ConcurrencyConflict, and the 50 others are all stored."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    payments = [make_payment(f"u{i}", key=f"unique-{i}") for i in range(50)]
    payments += [make_payment(f"d{i}", key="same") for i in range(10)]
    try:
        results = await asyncio.gather(
            *(_add(factory, p) for p in payments), return_exceptions=True
        )
    finally:
        await factory.aclose()

    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    stored = [r for r in results if isinstance(r, str)]
    assert len(conflicts) == 9
    assert len(stored) == 51
    assert all(f"u{i}" in stored for i in range(50))
    assert await _count(pg_engine, "SELECT count(*) FROM payments") == 51
    assert await _count(pg_engine, "SELECT count(*) FROM payment_events") == 51
    assert (
        await _count(pg_engine, "SELECT count(*) FROM payments WHERE idempotency_key = 'same'") == 1
    )


async def test_a_closed_group_committer_refuses_new_work(pg_engine):
    """After aclose() a unit of work cannot silently lose a new payment."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    await _add(factory, make_payment("before"))
    await factory.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await _add(factory, make_payment("after"))
    assert await _count(pg_engine, "SELECT count(*) FROM payments") == 1


async def test_a_lost_connection_is_a_connection_error_and_the_next_batch_reconnects(pg_engine):
    """The server kills the sender's connection: that caller gets ConnectionError (the API
    answers 503, nothing was accepted) and the next initiate goes through a new connection."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        await _add(factory, make_payment("first"))
        await _count(
            pg_engine,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'synccash-group-commit'",
        )
        with pytest.raises(ConnectionError):
            await _add(factory, make_payment("lost"))
        await _add(factory, make_payment("after"))
    finally:
        await factory.aclose()
    rows = await _count(pg_engine, "SELECT string_agg(id, ',' ORDER BY id) FROM payments")
    assert rows == "after,first"
