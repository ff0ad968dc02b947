"""PostgreSQL group commit: concurrent new payments share batches; each caller sees its own result."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest
from payments_factory import T0, make_payment
from sqlalchemy import text

from synccash.adapters.engines.group import GroupReader
from synccash.adapters.engines.pgfast import compile_load_many
from synccash.adapters.sql import SqlRiskContext, SqlUnitOfWorkFactory, make_engine
from synccash.adapters.sql._healing import DatabaseUnavailableError
from synccash.core.errors import ConcurrencyConflict
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import PaymentState

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


async def test_a_connection_the_server_closed_is_replaced_before_the_next_batch(pg_engine):
    """The server kills the sender's idle connection: the next initiate notices it is
    closed, drops it and goes through a new connection (no error for anybody)."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        await _add(factory, make_payment("first"))
        await _count(pg_engine, _KILL_GROUP_COMMIT)
        await asyncio.sleep(0.1)  # the server's goodbye reaches the idle connection
        await _add(factory, make_payment("after"))
    finally:
        await factory.aclose()
    rows = await _count(pg_engine, "SELECT string_agg(id, ',' ORDER BY id) FROM payments")
    assert rows == "after,first"


async def test_a_connection_lost_mid_statement_is_a_connection_error_and_the_next_reconnects(
    pg_engine,
):
    """The server kills the sender's connection while a statement runs: that caller gets
    ConnectionError (the API answers 503) and the next initiate goes through a new one."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    assert factory.group is not None
    try:
        running = asyncio.ensure_future(factory.group.execute("SELECT pg_sleep(30)", ()))
        while not await _count(pg_engine, _RUNNING_SLEEP):  # noqa: ASYNC110 (server state)
            await asyncio.sleep(0.05)
        await _count(pg_engine, _KILL_GROUP_COMMIT)
        with pytest.raises(ConnectionError):
            await running
        await _add(factory, make_payment("after"))
    finally:
        await factory.aclose()
    rows = await _count(pg_engine, "SELECT string_agg(id, ',' ORDER BY id) FROM payments")
    assert rows == "after"


_KILL_GROUP_COMMIT = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE application_name = 'synccash-group-commit' AND datname = current_database()"
)
_RUNNING_SLEEP = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'synccash-group-commit'"
    " AND datname = current_database() AND query LIKE 'SELECT pg_sleep%' AND state = 'active'"
)


async def _save(factory, payment):
    async with factory() as uow:
        await uow.payments.save(payment)
        await uow.commit()
    return payment.id


async def test_concurrent_saves_are_batched_and_a_stale_one_is_a_conflict(pg_engine):
    """40 payments saved at once (one of them twice, from two copies read at the same
    version): 40 saves land with their events, the stale copy gets ConcurrencyConflict and
    wrote nothing."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        ids = await asyncio.gather(
            *(_add(factory, make_payment(f"s{i}", key=f"s{i}")) for i in range(40))
        )
        copies = []
        for pid in ids:
            async with factory() as uow:
                copies.append(await uow.payments.get(pid))
        async with factory() as uow:
            twin = await uow.payments.get("s0")
        for payment in [*copies, twin]:
            payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        before = factory.group.batches
        results = await asyncio.gather(
            *(_save(factory, p) for p in [*copies, twin]), return_exceptions=True
        )
        batches = factory.group.batches - before
    finally:
        await factory.aclose()

    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert batches < 41
    assert await _count(pg_engine, "SELECT count(*) FROM payments WHERE state = 'VALIDATING'") == 40
    assert await _count(pg_engine, "SELECT count(*) FROM payments WHERE version = 1") == 40
    # one validating event per payment: the stale save wrote no event and no outbox row
    assert (
        await _count(
            pg_engine, "SELECT count(*) FROM payment_events WHERE type = 'payment.validating'"
        )
        == 40
    )
    assert (
        await _count(pg_engine, "SELECT count(*) FROM outbox WHERE type = 'payment.validating'")
        == 40
    )


@pytest.mark.parametrize("where", ["unix_socket", "tcp"])
async def test_the_senders_connect_where_the_engine_does(pg_engine, where):
    """A DATABASE_URL giving its host as a query parameter (`?host=/run/postgresql`, a
    Unix-socket directory, or `?host=127.0.0.1`) is honoured by the group committer's own
    connections too, not just by the engine's pool."""
    if where == "unix_socket":
        directories = await _count(pg_engine, "SHOW unix_socket_directories")
        host = directories.split(",")[0].strip()
        if not host:
            pytest.skip("this PostgreSQL listens on no Unix socket")
    else:
        host = pg_engine.url.host or "127.0.0.1"
    url = pg_engine.url.set(host=None, query={"host": host})
    socket_engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    factory = SqlUnitOfWorkFactory(socket_engine, group_commit=True)
    try:
        await _add(factory, make_payment("u1", key="u1"))
        (sender,) = factory.group._idle  # the connection that sent it, now idle
        over_socket = await sender.fetchval("SELECT inet_client_addr() IS NULL")
        assert over_socket is (where == "unix_socket")
        # its fixed statements keep one generic plan each (no re-planning per execution)
        assert await sender.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    finally:
        await factory.aclose()
        await socket_engine.dispose()
    assert await _count(pg_engine, "SELECT count(*) FROM payments WHERE id = 'u1'") == 1


# --- group reads ---------------------------------------------------------------------------
async def _get(factory, payment_id):
    async with factory() as uow:
        return await uow.payments.get(payment_id)


async def _load(factory, payment_id):
    async with factory() as uow:
        return await uow.payments.load(payment_id)


async def test_concurrent_reads_share_round_trips_and_each_gets_its_own_payment(pg_engine):
    """60 concurrent reads by id (one id asked twice, one unknown): each caller gets the payment
    it asked for, equal to what the unbatched pool path loads, in fewer round trips."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    plain = SqlUnitOfWorkFactory(pg_engine)  # no group: one statement per read
    try:
        stored = [make_payment(f"r{i}", key=f"r{i}") for i in range(58)]
        stored[3].transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        await asyncio.gather(*(_add(factory, p) for p in stored))
        asked = [*(p.id for p in stored), "r7", "nope"]
        got = await asyncio.gather(*(_load(factory, pid) for pid in asked))
        reader = factory.reader
        assert reader is not None
        assert reader.reads == 60
        assert reader.batches < 60
        assert got[-1] is None
        assert [p.id for p in got[:-1]] == asked[:-1]
        for payment in got[:-1]:
            full = await _get(plain, payment.id)  # with its audit trail
            assert payment.events == []  # a load leaves the trail out ...
            assert payment.history_seq == full.events[-1].seq  # ... and says where it ends
            assert payment == attrs.evolve(full, events=[], history_seq=payment.history_seq)
        assert got[3].state is PaymentState.VALIDATING
        assert got[3].history_seq == 2
    finally:
        await factory.aclose()


async def test_a_read_after_a_committed_save_sees_it(pg_engine):
    """The reader's statements are autocommit: a save committed before a read is seen by it."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        await _add(factory, make_payment("seen"))
        payment = await _load(factory, "seen")
        payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        await _save(factory, payment)
        again = await _load(factory, "seen")
        assert again.state is PaymentState.VALIDATING
        assert again.version == payment.version
        assert again.history_seq == 2
        again.transition(PaymentState.PENDING, T0, actor="worker", reason="routed")
        await _save(factory, again)  # numbering went on from the stored trail
        trail = (await _get(factory, "seen")).events
        assert [(e.seq, e.type) for e in trail] == [
            (1, "payment.initiated"),
            (2, "payment.validating"),
            (3, "payment.pending"),
        ]
    finally:
        await factory.aclose()


async def test_a_reader_connection_the_server_closed_is_replaced_before_the_next_read(
    pg_engine,
):
    """The server kills the reader's idle connection: the next read notices it is closed,
    drops it and goes through a new connection (no error for anybody)."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    try:
        await _add(factory, make_payment("kept"))
        assert (await _load(factory, "kept")).id == "kept"
        await _count(
            pg_engine,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'synccash-group-read' AND datname = current_database()",
        )
        await asyncio.sleep(0.1)  # the server's goodbye reaches the idle connection
        assert (await _load(factory, "kept")).id == "kept"
        assert (await _load(factory, "kept")).id == "kept"
    finally:
        await factory.aclose()


async def test_a_database_that_refuses_connections_fails_fast_with_backoff(pg_engine):
    """Nothing listens: reads fail with DatabaseUnavailableError (a ConnectionError) and
    reconnects back off, so the failing callers do not each try to connect."""
    tries = 0

    async def refused() -> None:
        nonlocal tries
        tries += 1
        raise ConnectionRefusedError("nothing listens")

    reader = GroupReader(pg_engine, compile_load_many(pg_engine.dialect).sql, "id", connect=refused)
    try:
        for _ in range(20):
            with pytest.raises(DatabaseUnavailableError):
                await reader.fetch("any")
    finally:
        await reader.aclose()
    assert tries <= 3  # not 20: the others came within a backoff (0.1 s, then 0.2 s)


async def test_concurrent_risk_assessments_share_round_trips_and_match_one_by_one(pg_engine):
    """Fraud signals for 30 payers at once through the reader (each parameter set unnested
    and assessed LATERAL) equal the signals computed one statement at a time."""
    factory = SqlUnitOfWorkFactory(pg_engine, group_commit=True)
    grouped, plain = SqlRiskContext(pg_engine, factory.reader), SqlRiskContext(pg_engine)
    payers = [Msisdn.parse(f"02400010{i:02d}") for i in range(30)]
    try:
        history = [
            make_payment(
                f"h{i}-{j}",
                key=f"h{i}-{j}",
                payer=payer,
                minor=1000 * (j + 1),
                at=T0 - timedelta(hours=j),
            )
            for i, payer in enumerate(payers)
            for j in range(i % 4)
        ]
        await asyncio.gather(*(_add(factory, p) for p in history))
        await grouped.block(payers[7].e164, "mule")

        def assess(context, i, payer):
            return context.signals(
                payer=payer,
                payee_key=f"acct:m{i % 3}",
                amount=Money(500),
                at=T0 + timedelta(minutes=1),
                exclude_payment_id=f"new{i}",
            )

        before = factory.reader.batches
        batched = await asyncio.gather(*(assess(grouped, i, p) for i, p in enumerate(payers)))
        assert factory.reader.batches - before < len(payers)
        one_by_one = [await assess(plain, i, p) for i, p in enumerate(payers)]
    finally:
        await factory.aclose()
    assert batched == one_by_one
    assert [s.payer_count_24h for s in batched[:4]] == [0, 1, 2, 3]
    assert batched[7].payer_blocklisted
    assert not batched[8].payer_blocklisted
    assert batched[3].payer_median_amount_30d == Money(2000)
