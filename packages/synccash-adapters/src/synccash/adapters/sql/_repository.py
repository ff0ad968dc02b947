"""SqlPaymentRepository: the PaymentRepository port on one SQLAlchemy Core connection.

All writes go through the unit of work's connection and become visible at its commit.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import asyncpg
from attrs import define, field
from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.engines.group import GroupCommitter, GroupReader
from synccash.adapters.engines.pgfast import (
    ATTEMPT_MUTABLE,
    IMMUTABLE,
    CompiledStatement,
    children_columns,
    compile_get,
    compile_get_by_reference,
    compile_lateral,
    compile_new_payment,
    compile_save,
    compile_save_strict,
    new_payment_params,
    payment_to_act_on,
    payment_with_children,
    save_params,
)
from synccash.adapters.sql._healing import discard_on_loss, unavailable
from synccash.adapters.sql._ledger import (
    ledger_refusal,
    remember_posted,
    unposted,
    write_entries,
)
from synccash.adapters.sql._mapping import (
    attempt_from_row,
    attempt_to_row,
    event_from_row,
    event_to_row,
    outbox_row,
    payment_from_row,
    payment_to_row,
)
from synccash.adapters.sql._tables import outbox, payment_attempts, payment_events, payments
from synccash.core.errors import ConcurrencyConflict
from synccash.core.ledger import entries_for
from synccash.core.payment import Attempt, Payment, PaymentEvent, PaymentState
from synccash.core.ports import AttemptOwner, DailyRow, PaymentPage, PaymentQuery
from synccash.core.providers import ProviderId

#: States in which the worker may still have something to do.
#: The provider callback's lookup (payment_attempts' primary key).
_OWNER_SQL: Final = "SELECT payment_id, provider FROM payment_attempts WHERE reference = $1"


def _owner_statement() -> Select[Any]:
    """_OWNER_SQL as a statement (for the group reader's batched form)."""
    reference = bindparam("reference", type_=payment_attempts.c.reference.type)
    return select(payment_attempts.c.payment_id, payment_attempts.c.provider).where(
        payment_attempts.c.reference == reference
    )


_FINAL_STATES: Final = (
    PaymentState.FAILED.value,
    PaymentState.EXPIRED.value,
    PaymentState.CANCELLED.value,
    PaymentState.REFUNDED.value,
)


@define
class _Written:
    payment: Payment
    original_version: int
    events_written: int = 0


@define
class WriteTracker:
    """What a unit of work wrote, so in-memory payments are settled only at commit."""

    written: dict[int, _Written] = field(factory=dict)

    def track(self, payment: Payment) -> _Written:
        """The record for this payment object, created on first write."""
        entry = self.written.get(id(payment))
        if entry is None:
            entry = _Written(payment, payment.version)
            self.written[id(payment)] = entry
        return entry

    def committed(self) -> None:
        """Commit succeeded: the written events are no longer new (nor the postings)."""
        for entry in self.written.values():
            del entry.payment.new_events[: entry.events_written]
            remember_posted(entry.payment)
        self.written.clear()

    def rolled_back(self) -> None:
        """Nothing was stored: restore the versions the payments had."""
        for entry in self.written.values():
            entry.payment.version = entry.original_version
        self.written.clear()


@define
class _Deferred:
    """One statement held back until commit (or until the unit's next statement)."""

    sql: str
    args: tuple[Any, ...]
    entry: _Written
    events: int
    expected_version: int | None = None  # a save (checked against it); None: a new payment
    strict_sql: str | None = None  # a save that fails on a version mismatch (group commit)


class SqlPaymentRepository:
    """PaymentRepository over the unit of work's connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        tracker: WriteTracker,
        group: GroupCommitter | None = None,
        reader: GroupReader | None = None,
    ) -> None:
        self._engine = engine
        self._reader = reader
        self._conn: AsyncConnection | None = None  # checked out on first use
        self._tracker = tracker
        self._group = group
        self._dialect = engine.dialect
        self._postgres = engine.dialect.name == "postgresql"
        # PostgreSQL: a new payment or a saved change that is the unit's first write waits
        # here for commit, which then sends it alone, without BEGIN/COMMIT (each is one
        # statement, atomic by itself); reads before it run outside any transaction (the
        # writes are optimistic on the version, so nothing relies on a read snapshot).
        # A unit that only adds a payment with group commit never checks out a connection.
        self._deferred: _Deferred | None = None

    @property
    def connection(self) -> AsyncConnection | None:
        """The unit's pooled connection, if it has used one."""
        return self._conn

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    def _in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction()

    # --- writes -----------------------------------------------------------------
    async def add(self, payment: Payment) -> None:
        """Insert a new payment; a duplicate idempotency key (or id) is a ConcurrencyConflict.

        On PostgreSQL, when this is the unit of work's first statement, the insert is sent
        at commit() as one statement without BEGIN/COMMIT (an initiate is one round trip),
        so the conflict surfaces there, or at the unit's next repository call.
        """
        await self.flush()
        entry = self._tracker.track(payment)
        fresh = payment.new_events[entry.events_written :]
        entries = entries_for(payment)  # a new payment: everything its state implies
        if self._postgres and fresh:
            # the hot path: payment, attempts, events, outbox rows and postings in one statement
            compiled = compile_new_payment(
                self._dialect, len(payment.attempts), len(fresh), ledger=bool(entries)
            )
            args = compiled.bind(new_payment_params(payment, fresh, entries))
            if not self._in_transaction():
                self._deferred = _Deferred(compiled.sql, args, entry, len(fresh))
                return
            await self._insert_new(compiled.sql, args, payment)
            entry.events_written += len(fresh)
            return
        try:
            await (await self._connection()).execute(insert(payments), payment_to_row(payment))
        except IntegrityError as exc:
            raise _duplicate(payment) from exc
        if payment.attempts:
            await (await self._connection()).execute(
                insert(payment_attempts),
                [attempt_to_row(payment.id, a) for a in payment.attempts],
            )
        await self._write_events(entry)
        await write_entries(await self._connection(), entries, payment.updated_at)

    async def _insert_new(self, sql: str, args: tuple[Any, ...], payment: Payment) -> None:
        try:
            await (await self._connection()).exec_driver_sql(sql, args)
        except IntegrityError as exc:
            raise _duplicate(payment) from exc

    async def flush(self) -> None:
        """Send a deferred write inside the unit's transaction (before any other call)."""
        deferred, self._deferred = self._deferred, None
        if deferred is None:
            return
        if deferred.expected_version is None:
            await self._insert_new(deferred.sql, deferred.args, deferred.entry.payment)
        else:
            result = await (await self._connection()).exec_driver_sql(deferred.sql, deferred.args)
            _check_saved(deferred, result.scalar_one())
        deferred.entry.events_written += deferred.events

    async def _driver(self) -> Any:
        """The asyncpg connection under the unit's pooled connection."""
        driver = (await (await self._connection()).get_raw_connection()).driver_connection
        if driver is None:
            raise RuntimeError("the pooled connection is closed")
        return driver

    def _raw_ok(self) -> bool:
        """True when a statement may go straight to asyncpg, outside any transaction."""
        return self._postgres and self._deferred is None and not self._in_transaction()

    async def commit_deferred_alone(self) -> bool:
        """If the unit's only write is a deferred one, send it alone (autocommit).

        It goes straight to the asyncpg connection: outside a transaction one statement
        commits by itself, and SQLAlchemy's transaction bookkeeping would cost more client
        CPU than the statement. Returns True if it did (nothing else is left to commit).
        """
        deferred = self._deferred
        if deferred is None or self._in_transaction():
            return False
        self._deferred = None
        if self._group is not None:
            # batched with other units' lone writes (one round trip and one commit for all)
            is_save = deferred.expected_version is not None
            try:
                await self._group.execute(deferred.strict_sql or deferred.sql, deferred.args)
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise _duplicate(deferred.entry.payment) from exc
            except asyncpg.DivisionByZeroError as exc:
                if not is_save:
                    raise
                # the strict save's version did not match: nothing of it was written
                payment = deferred.entry.payment
                raise _conflict(payment.id, deferred.expected_version or 0) from exc
            except asyncpg.PostgresError as exc:
                # the ledger's guard refused it (re-sent alone: only this caller sees it)
                refusal = ledger_refusal(exc)
                if refusal is None:
                    raise
                raise refusal from exc
            deferred.entry.events_written += deferred.events
            return True
        driver = await self._driver()
        try:
            if deferred.expected_version is None:
                await driver.execute(deferred.sql, *deferred.args)
            else:
                _check_saved(deferred, await driver.fetchval(deferred.sql, *deferred.args))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _duplicate(deferred.entry.payment) from exc
        except ConcurrencyConflict:
            raise
        except Exception as exc:
            refusal = ledger_refusal(exc) if isinstance(exc, asyncpg.PostgresError) else None
            if refusal is not None:
                raise refusal from exc  # one statement's own refusal: the connection is fine
            # SQLAlchemy did not see this failure and the connection's state is unknown
            # (lost, or asyncpg mid-protocol): take it out of the pool
            await (await self._connection()).invalidate()
            raise unavailable(exc) from exc
        deferred.entry.events_written += deferred.events
        return True

    def discard_deferred(self) -> None:
        """Rollback: forget a deferred insert that was never sent."""
        self._deferred = None

    async def save(self, payment: Payment) -> None:
        """Optimistic update: only if the stored version is the one this payment was read at.

        On PostgreSQL, as the unit's first write, the check happens at commit (the
        ConcurrencyConflict is raised there).
        """
        await self.flush()
        entry = self._tracker.track(payment)
        expected = payment.version
        fresh = payment.new_events[entry.events_written :]
        entries = unposted(payment)  # what the loaded state did not imply yet
        if self._postgres:
            # one round trip; the attempts, events, outbox rows and postings depend on the
            # UPDATE matching
            shape = (self._dialect, len(payment.attempts), len(fresh))
            compiled = compile_save(*shape, ledger=bool(entries))
            args = compiled.bind(save_params(payment, expected, fresh, entries))
            strict = (
                compile_save_strict(*shape, ledger=bool(entries)).sql
                if self._group is not None
                else None
            )
            deferred = _Deferred(compiled.sql, args, entry, len(fresh), expected, strict)
            payment.version = expected + 1
            if self._in_transaction():
                result = await (await self._connection()).exec_driver_sql(compiled.sql, args)
                _check_saved(deferred, result.scalar_one())
                entry.events_written += len(fresh)
            else:
                self._deferred = deferred
            return
        values = {k: v for k, v in payment_to_row(payment).items() if k not in IMMUTABLE}
        values["version"] = expected + 1
        result = await (await self._connection()).execute(
            update(payments)
            .where(payments.c.id == payment.id, payments.c.version == expected)
            .values(values)
        )
        if result.rowcount != 1:
            raise _conflict(payment.id, expected)
        payment.version = expected + 1
        if payment.attempts:
            await self._upsert_attempts(payment.id, payment.attempts)
        await self._write_events(entry)
        await write_entries(await self._connection(), entries, payment.updated_at)

    async def _upsert_attempts(self, payment_id: str, attempts: Sequence[Attempt]) -> None:
        stmt = sqlite.insert(payment_attempts)
        stmt = stmt.on_conflict_do_update(
            index_elements=[payment_attempts.c.reference],
            set_={name: stmt.excluded[name] for name in ATTEMPT_MUTABLE},
        )
        await (await self._connection()).execute(
            stmt, [attempt_to_row(payment_id, a) for a in attempts]
        )

    async def _write_events(self, entry: _Written) -> None:
        payment = entry.payment
        fresh = payment.new_events[entry.events_written :]
        if not fresh:
            return
        await (await self._connection()).execute(
            insert(payment_events), [event_to_row(e) for e in fresh]
        )
        await (await self._connection()).execute(
            insert(outbox), [outbox_row(payment, e) for e in fresh]
        )
        entry.events_written += len(fresh)

    # --- reads ------------------------------------------------------------------
    async def get(self, payment_id: str, merchant_id: str | None = None) -> Payment | None:
        """One payment (scoped to a merchant when given), or None."""
        if self._raw_ok():
            # the worker's hot read: one precompiled statement, no BEGIN/ROLLBACK around it
            if merchant_id is None:
                return await self._raw_payment(compile_get(self._dialect, scoped=False), payment_id)
            return await self._raw_payment(
                compile_get(self._dialect, scoped=True), payment_id, merchant_id
            )
        await self.flush()
        stmt = self._select().where(payments.c.id == payment_id)
        if merchant_id is not None:
            stmt = stmt.where(payments.c.merchant_id == merchant_id)
        return await self._one(stmt)

    async def load(self, payment_id: str) -> Payment | None:
        """The payment to act on (the worker's read at the start of every task).

        With a group reader (PostgreSQL, as bootstrap composes it) concurrent units' loads
        share one round trip and no pooled connection, and the audit trail is not read
        (nor aggregated by the server): `events` starts empty and `history_seq` carries
        the last stored seq. Otherwise the same as `get`.
        """
        if self._reader is not None and self._raw_ok():
            row = await self._reader.fetch(payment_id)
            return None if row is None else payment_to_act_on(row)
        return await self.get(payment_id)

    async def _raw_payment(self, compiled: CompiledStatement, *args: Any) -> Payment | None:
        """One payment by a precompiled SELECT sent straight to asyncpg (no transaction)."""
        async with discard_on_loss(await self._connection()):
            row = await (await self._driver()).fetchrow(compiled.sql, *args)
        return None if row is None else payment_with_children(row)

    async def get_by_idempotency_key(self, merchant_id: str, key: str) -> Payment | None:
        """The payment created with this merchant's idempotency key, or None."""
        await self.flush()
        return await self._one(
            self._select().where(
                payments.c.merchant_id == merchant_id, payments.c.idempotency_key == key
            )
        )

    async def get_by_attempt_reference(self, reference: str) -> Payment | None:
        """The payment owning the attempt with this reference, or None."""
        if self._raw_ok():
            # every provider callback asks this: one precompiled statement, no transaction
            return await self._raw_payment(compile_get_by_reference(self._dialect), reference)
        await self.flush()
        owner = select(payment_attempts.c.payment_id).where(
            payment_attempts.c.reference == reference
        )
        return await self._one(self._select().where(payments.c.id.in_(owner.scalar_subquery())))

    async def attempt_owner(self, reference: str) -> AttemptOwner | None:
        """Which payment and provider an attempt reference belongs to, or None."""
        if self._raw_ok():
            # every provider callback asks this: a primary-key lookup, no transaction; with
            # a group reader, concurrent callbacks share one round trip and no pooled
            # connection is checked out (a burst of callbacks used to open overflow ones)
            if self._reader is not None:
                _, batched = compile_lateral("attempt_owner", self._dialect, _owner_statement)
                row = await self._reader.fetch_each(batched, (reference,))
            else:
                async with discard_on_loss(await self._connection()):
                    row = await (await self._driver()).fetchrow(_OWNER_SQL, reference)
        else:
            await self.flush()
            result = await (await self._connection()).execute(
                select(payment_attempts.c.payment_id, payment_attempts.c.provider).where(
                    payment_attempts.c.reference == reference
                )
            )
            row = result.mappings().first()
        if row is None:
            return None
        return AttemptOwner(row["payment_id"], ProviderId(row["provider"]))

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """A merchant's payments, newest first, keyset-paginated on (created_at, id)."""
        await self.flush()
        stmt = self._select().where(payments.c.merchant_id == merchant_id)
        if query.state is not None:
            stmt = stmt.where(payments.c.state == query.state.value)
        if query.provider is not None:
            stmt = stmt.where(payments.c.provider == query.provider.value)
        if query.created_from is not None:
            stmt = stmt.where(payments.c.created_at >= query.created_from)
        if query.created_to is not None:
            stmt = stmt.where(payments.c.created_at < query.created_to)
        if query.reference is not None:
            stmt = stmt.where(payments.c.reference == query.reference)
        if query.kind is not None:
            stmt = stmt.where(payments.c.kind == query.kind.value)
        if query.cursor is not None:
            cursor_at = (
                select(payments.c.created_at)
                .where(payments.c.id == query.cursor, payments.c.merchant_id == merchant_id)
                .scalar_subquery()
            )
            stmt = stmt.where(
                or_(
                    payments.c.created_at < cursor_at,
                    and_(payments.c.created_at == cursor_at, payments.c.id < query.cursor),
                )
            )
        limit = max(1, query.limit)
        stmt = stmt.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit + 1)
        rows = (await (await self._connection()).execute(stmt)).mappings().all()
        items = await self._hydrate(rows[:limit])
        next_cursor = items[-1].id if len(rows) > limit else None
        return PaymentPage(items=items, next_cursor=next_cursor)

    async def due(self, now: datetime, limit: int) -> Sequence[str]:
        """Overdue non-final payments, claimed with FOR UPDATE SKIP LOCKED on PostgreSQL."""
        await self.flush()
        stmt = (
            select(payments.c.id)
            .where(
                payments.c.next_action_at.is_not(None),
                payments.c.next_action_at <= now,
                payments.c.state.not_in(_FINAL_STATES),
            )
            .order_by(payments.c.next_action_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await (await self._connection()).execute(stmt)).scalars().all())

    async def events(self, payment_id: str) -> Sequence[PaymentEvent]:
        """The audit trail, in order."""
        await self.flush()
        rows = await (await self._connection()).execute(
            select(payment_events)
            .where(payment_events.c.payment_id == payment_id)
            .order_by(payment_events.c.seq)
        )
        return [event_from_row(r) for r in rows.mappings()]

    async def daily_totals(self, merchant_id: str, day: date) -> Sequence[DailyRow]:
        """Counts and sums of the merchant's payments created on `day` (UTC)."""
        await self.flush()
        start = datetime.combine(day, time(0), tzinfo=UTC)
        stmt = (
            select(
                payments.c.state,
                payments.c.provider,
                func.count().label("n"),
                func.coalesce(func.sum(payments.c.amount_minor), 0).label("amount_minor"),
                func.coalesce(func.sum(payments.c.fee_minor), 0).label("fee_minor"),
            )
            .where(
                payments.c.merchant_id == merchant_id,
                payments.c.created_at >= start,
                payments.c.created_at < start + timedelta(days=1),
            )
            .group_by(payments.c.state, payments.c.provider)
        )
        rows = [
            DailyRow(
                state=PaymentState(r.state),
                provider=None if r.provider is None else ProviderId(r.provider),
                count=int(r.n),
                amount_minor=int(r.amount_minor),
                fee_minor=int(r.fee_minor),
            )
            for r in await (await self._connection()).execute(stmt)
        ]
        return sorted(rows, key=daily_row_key)

    # --- hydration --------------------------------------------------------------
    async def _one(self, stmt: Select[Any]) -> Payment | None:
        row = (await (await self._connection()).execute(stmt)).mappings().first()
        if row is None:
            return None
        items = await self._hydrate([row])
        return items[0]

    def _select(self) -> Select[Any]:
        """Payments; on PostgreSQL with their attempts and events aggregated in (one round trip)."""
        if self._postgres:
            return select(payments, *children_columns())
        return select(payments)

    async def _hydrate(self, rows: Sequence[Any]) -> builtins.list[Payment]:
        if not rows:
            return []
        if self._postgres:
            return [payment_with_children(r) for r in rows]
        ids = [r["id"] for r in rows]
        attempts: dict[str, builtins.list[Attempt]] = {i: [] for i in ids}
        events: dict[str, builtins.list[PaymentEvent]] = {i: [] for i in ids}
        only = payment_attempts.c.payment_id == ids[0] if len(ids) == 1 else None
        attempt_rows = await (await self._connection()).execute(
            select(payment_attempts)
            .where(only if only is not None else payment_attempts.c.payment_id.in_(ids))
            .order_by(payment_attempts.c.payment_id, payment_attempts.c.seq)
        )
        for r in attempt_rows.mappings():
            attempts[r["payment_id"]].append(attempt_from_row(r))
        event_filter = (
            payment_events.c.payment_id == ids[0]
            if len(ids) == 1
            else payment_events.c.payment_id.in_(ids)
        )
        event_rows = await (await self._connection()).execute(
            select(payment_events)
            .where(event_filter)
            .order_by(payment_events.c.payment_id, payment_events.c.seq)
        )
        for r in event_rows.mappings():
            events[r["payment_id"]].append(event_from_row(r))
        return [payment_from_row(r, attempts[r["id"]], events[r["id"]]) for r in rows]


def _conflict(payment_id: str, expected: int) -> ConcurrencyConflict:
    return ConcurrencyConflict(
        f"payment {payment_id} changed since it was read (version {expected}); reload and retry"
    )


def _check_saved(deferred: _Deferred, matched: int) -> None:
    """A save whose optimistic UPDATE matched no row wrote nothing: a ConcurrencyConflict."""
    if matched != 1:
        payment = deferred.entry.payment
        raise _conflict(payment.id, deferred.expected_version or 0)


def _duplicate(payment: Payment) -> ConcurrencyConflict:
    return ConcurrencyConflict(
        f"payment {payment.id} or idempotency key {payment.idempotency_key!r} "
        f"of merchant {payment.merchant_id} already exists"
    )


def daily_row_key(row: DailyRow) -> tuple[str, str]:
    """Stable order of daily rows: by state, then provider (None first)."""
    return (row.state.value, "" if row.provider is None else row.provider.value)
