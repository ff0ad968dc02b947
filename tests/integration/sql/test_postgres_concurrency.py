"""PostgreSQL only: concurrent writers, concurrent initiates, the audit trigger, SKIP LOCKED."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from payments_factory import T0, make_payment
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from synccash.adapters.sql import SqlOutbox, SqlUnitOfWork, SqlUnitOfWorkFactory
from synccash.core.errors import ConcurrencyConflict
from synccash.core.payment import PaymentState

pytestmark = pytest.mark.integration


async def _store(engine, *payments):
    async with SqlUnitOfWork(engine) as uow:
        for payment in payments:
            await uow.payments.add(payment)
        await uow.commit()


async def _until_a_backend_waits_for_a_lock(engine):
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(500):
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar_one() > 0:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second writer never blocked on the first writer's row lock")


async def test_two_concurrent_writers_one_conflict_no_lost_update(pg_engine):
    """The second writer waits for the first's row lock, then gets ConcurrencyConflict.

    The first writer saves two payments, so its save of p1 is sent inside a transaction
    and holds the row lock until it commits; the second writer's save is the only write of
    its unit and goes out alone at commit, where it blocks on that lock.
    """
    await _store(pg_engine, make_payment("p1"), make_payment("p2"))
    first_saved = asyncio.Event()
    release_first = asyncio.Event()

    async def writer(name, target):
        async with SqlUnitOfWork(pg_engine) as uow:
            payment = await uow.payments.get("p1")
            await read_both.wait()
            if name == "first":
                other = await uow.payments.get("p2")
                payment.transition(target, T0, actor=name, reason=name)
                await uow.payments.save(payment)
                other.transition(target, T0, actor=name, reason=name)
                await uow.payments.save(other)  # sends p1's update: the row is locked now
                first_saved.set()
                await release_first.wait()
                await uow.commit()
            else:
                await first_saved.wait()
                payment.cancel(T0, actor=name)
                await uow.payments.save(payment)
                commit = asyncio.ensure_future(uow.commit())
                await _until_a_backend_waits_for_a_lock(pg_engine)
                release_first.set()
                await commit
            return name

    read_both = asyncio.Event()
    tasks = [
        asyncio.ensure_future(writer("first", PaymentState.VALIDATING)),
        asyncio.ensure_future(writer("second", PaymentState.CANCELLED)),
    ]
    await asyncio.sleep(0.05)
    read_both.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert results[0] == "first"
    assert isinstance(results[1], ConcurrencyConflict)
    async with SqlUnitOfWork(pg_engine) as uow:
        stored = await uow.payments.get("p1")
        events = await uow.payments.events("p1")
    assert (stored.state, stored.version) == (PaymentState.VALIDATING, 1)
    assert [e.actor for e in events] == ["merchant", "first"]


async def test_a_lone_save_after_a_stale_read_is_a_conflict_and_writes_nothing(pg_engine):
    """A save sent alone at commit still checks the version: stale -> conflict, no rows."""
    await _store(pg_engine, make_payment("p1"))
    async with SqlUnitOfWork(pg_engine) as stale:
        old = await stale.payments.get("p1")
    async with SqlUnitOfWork(pg_engine) as uow:
        fresh = await uow.payments.get("p1")
        fresh.transition(PaymentState.VALIDATING, T0, actor="fresh", reason="first")
        await uow.payments.save(fresh)
        await uow.commit()
    old.cancel(T0, actor="stale")
    async with SqlUnitOfWork(pg_engine) as uow:
        await uow.payments.save(old)
        with pytest.raises(ConcurrencyConflict):
            await uow.commit()
    assert old.version == 0  # restored: the save did not happen
    assert old.new_events  # still pending: nothing was written
    async with SqlUnitOfWork(pg_engine) as uow:
        stored = await uow.payments.get("p1")
        events = await uow.payments.events("p1")
    assert (stored.state, stored.version) == (PaymentState.VALIDATING, 1)
    assert [e.actor for e in events] == ["merchant", "fresh"]
    async with pg_engine.connect() as conn:
        outbox_rows = (
            await conn.execute(text("SELECT count(*) FROM outbox WHERE payment_id = 'p1'"))
        ).scalar_one()
    assert outbox_rows == 2


async def test_fifty_concurrent_initiates_with_one_key_make_one_payment(pg_engine):
    """50 tasks racing on one idempotency key all end with the same single payment."""
    factory = SqlUnitOfWorkFactory(pg_engine)

    async def initiate(i):
        async with factory() as uow:
            existing = await uow.payments.get_by_idempotency_key("m1", "race")
            if existing is not None:
                return existing.id
            try:
                await uow.payments.add(make_payment(f"p{i}", key="race"))
                await uow.commit()
                return f"p{i}"
            except ConcurrencyConflict:
                pass
        async with factory() as uow:
            return (await uow.payments.get_by_idempotency_key("m1", "race")).id

    ids = await asyncio.gather(*(initiate(i) for i in range(50)))

    async with pg_engine.connect() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM payments WHERE idempotency_key = 'race'"))
        ).scalar_one()
        events = (await conn.execute(text("SELECT count(*) FROM payment_events"))).scalar_one()
    assert count == 1
    assert len(set(ids)) == 1
    assert events == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payment_events SET actor = 'mallory'",
        "DELETE FROM payment_events",
        "TRUNCATE payment_events CASCADE",
    ],
)
async def test_audit_trail_refuses_update_and_delete(pg_engine, statement):
    """The append-only trigger rejects rewriting or deleting audit events."""
    await _store(pg_engine, make_payment("p1"))

    with pytest.raises(DBAPIError, match="append-only"):
        async with pg_engine.begin() as conn:
            await conn.execute(text(statement))

    async with SqlUnitOfWork(pg_engine) as uow:
        assert [e.actor for e in await uow.payments.events("p1")] == ["merchant"]


async def test_due_claims_distinct_rows_across_sessions(pg_engine):
    """Two workers sweeping at once get disjoint overdue payments (FOR UPDATE SKIP LOCKED)."""
    await _store(
        pg_engine,
        *(make_payment(f"p{i}", next_action_at=T0 - timedelta(seconds=i)) for i in range(5)),
    )
    async with SqlUnitOfWork(pg_engine) as one, SqlUnitOfWork(pg_engine) as two:
        first = await one.payments.due(T0, 3)
        second = await two.payments.due(T0, 10)

    assert first == ["p4", "p3", "p2"]
    assert second == ["p1", "p0"]


async def test_outbox_claims_are_disjoint_across_relays(pg_engine):
    """Two relays claiming at once never get the same outbox row."""
    await _store(pg_engine, *(make_payment(f"p{i}") for i in range(4)))
    outbox = SqlOutbox(pg_engine)

    async with outbox.claim(3) as one, outbox.claim(3) as two:
        firsts = [r.payment_id for r in one.rows]
        seconds = [r.payment_id for r in two.rows]
        await one.mark_published([r.id for r in one.rows], T0)

    assert len(firsts) == 3
    assert len(seconds) == 1
    assert not set(firsts) & set(seconds)
    assert [r.payment_id for r in await outbox.fetch_unpublished(10)] == seconds


async def test_connection_lost_before_a_lone_insert_is_not_reused(pg_engine):
    """A server-side kill before commit fails that commit and leaves a healthy pool behind."""
    async with SqlUnitOfWork(pg_engine) as uow:
        await uow.payments.add(make_payment("lost"))
        raw = await (await uow.payments._connection()).get_raw_connection()
        backend_pid = raw.driver_connection.get_server_pid()
        async with pg_engine.connect() as admin:
            await admin.execute(text(f"SELECT pg_terminate_backend({backend_pid})"))
        with pytest.raises(Exception) as failure:
            await uow.commit()
        assert not isinstance(failure.value, ConcurrencyConflict)

    for _ in range(3):  # every pooled connection still works
        async with SqlUnitOfWork(pg_engine) as uow:
            assert await uow.payments.get("lost") is None
    await _store(pg_engine, make_payment("after"))
    async with SqlUnitOfWork(pg_engine) as uow:
        assert (await uow.payments.get("after")).id == "after"
