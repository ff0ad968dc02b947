"""Reconciliation in SQL: staged statement lines, runs, and their results (migration 0008).

- `import_lines` streams parsed lines into `statement_lines` in batches; the key is
  (provider, statement day, provider transaction id), so importing a report twice inserts
  nothing the second time.
- `run` reads the staged day and our attempts at the provider (created the day before to the
  day after, reported only for the day itself), classifies them with the pure
  `synccash.core.reconcile.reconcile` and stores one item per line or attempt. The run's id
  is `<provider>:<day>`: a re-run updates the same rows (the classes of an unchanged day stay
  the same), removes items that no longer arise unless an operator resolved them, and never
  touches a resolution.
- `resolve` records who closed an exception, when and why (write-once: a resolved item
  cannot be resolved again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from attrs import frozen
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.sql._tables import metadata, payment_attempts
from synccash.adapters.sql._types import JsonDoc, UtcDateTime
from synccash.core.reconcile import (
    LINE_KIND_OF,
    MatchClass,
    OurAttempt,
    Outcome,
    exception_counts,
    reconcile,
)
from synccash.core.statements import LineKind, LineStatus, StatementLine

_BATCH: Final = 1000

statement_lines = Table(
    "statement_lines",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("statement_date", Date, primary_key=True),
    Column("provider_txn_id", String(128), primary_key=True),
    Column("line_no", Integer, nullable=False),
    Column("reference", String(128)),
    Column("external_id", String(128)),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("charges_minor", BigInteger, nullable=False),
    Column("msisdn", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("exceptions", Integer, nullable=False),
    Column("counts", JsonDoc, nullable=False),
    Column("runs", Integer, nullable=False),  # how many times this day was reconciled
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
)

reconciliation_items = Table(
    "reconciliation_items",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("match_class", String(24), nullable=False),
    Column("provider_txn_id", String(128)),
    Column("reference", String(128)),
    Column("payment_id", String(64)),
    Column("line_status", String(16)),
    Column("our_status", String(16)),
    Column("line_amount_minor", BigInteger),
    Column("our_amount_minor", BigInteger),
    Column("line_charges_minor", BigInteger),
    Column("our_charges_minor", BigInteger),
    Column("detail", Text, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(128)),
    Column("resolution_note", Text),
)
Index(
    "ix_reconciliation_items_class",
    reconciliation_items.c.match_class,
    reconciliation_items.c.resolved_at,
)

_ITEM_COLUMNS: Final = (
    "run_id",
    "key",
    "provider",
    "statement_date",
    "match_class",
    "provider_txn_id",
    "reference",
    "payment_id",
    "line_status",
    "our_status",
    "line_amount_minor",
    "our_amount_minor",
    "line_charges_minor",
    "our_charges_minor",
    "detail",
)


@frozen
class ImportResult:
    """What an import did: rows read from the report and rows new to the staging table."""

    read: int
    inserted: int


@frozen
class RunSummary:
    """A stored reconciliation run."""

    id: str
    provider: str
    statement_date: date
    lines: int
    attempts: int
    exceptions: int
    counts: dict[str, int]
    runs: int

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's form."""
        return {
            "id": self.id,
            "provider": self.provider,
            "date": self.statement_date.isoformat(),
            "lines": self.lines,
            "attempts": self.attempts,
            "exceptions": self.exceptions,
            "counts": self.counts,
            "runs": self.runs,
        }


class ItemAlreadyResolved(Exception):
    """The exception was resolved before (resolutions are write-once)."""


def run_id_for(provider: str, day: date) -> str:
    """A run's id: one per provider and statement day."""
    return f"{provider}:{day.isoformat()}"


def _line_row(provider: str, day: date, line: StatementLine, now: datetime) -> dict[str, Any]:
    return {
        "provider": provider,
        "statement_date": day,
        "provider_txn_id": line.provider_txn_id,
        "line_no": line.line_no,
        "reference": line.reference,
        "external_id": line.external_id,
        "kind": line.kind.value,
        "status": line.status.value,
        "amount_minor": line.amount_minor,
        "charges_minor": line.charges_minor,
        "msisdn": line.msisdn,
        "at": line.at,
        "imported_at": now,
    }


def _item_row(run_id: str, provider: str, day: date, outcome: Outcome) -> dict[str, Any]:
    line, attempt = outcome.line, outcome.attempt
    return {
        "run_id": run_id,
        "key": outcome.key,
        "provider": provider,
        "statement_date": day,
        "match_class": outcome.match_class.value,
        "provider_txn_id": line.provider_txn_id if line else attempt and attempt.provider_txn_id,
        "reference": attempt.reference if attempt else line and line.reference,
        "payment_id": attempt.payment_id if attempt else line and line.external_id,
        "line_status": line.status.value if line else None,
        "our_status": attempt.status if attempt else None,
        "line_amount_minor": line.amount_minor if line else None,
        "our_amount_minor": attempt.amount_minor if attempt else None,
        "line_charges_minor": line.charges_minor if line else None,
        "our_charges_minor": attempt.charges_minor if attempt else None,
        "detail": outcome.detail,
    }


def item_json(row: Any) -> dict[str, Any]:
    """One stored item as JSON (dates as ISO text)."""
    found = {str(k): v for k, v in dict(row).items()}  # plain str keys, not SQL names
    found["statement_date"] = found["statement_date"].isoformat()
    if found.get("resolved_at") is not None:
        found["resolved_at"] = found["resolved_at"].isoformat()
    return found


class SqlReconciliation:
    """Statement staging, runs and exceptions on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self._postgres else sqlite.insert)(table)

    async def import_lines(
        self, provider: str, day: date, lines: Iterable[StatementLine], now: datetime
    ) -> ImportResult:
        """Stage a report's lines in batches (streaming); lines already staged are skipped."""
        read = inserted = 0
        batch: list[dict[str, Any]] = []
        async with self._engine.begin() as conn:
            for line in lines:
                batch.append(_line_row(provider, day, line, now))
                read += 1
                if len(batch) >= _BATCH:
                    inserted += await self._insert_batch(conn, batch)
                    batch = []
            if batch:
                inserted += await self._insert_batch(conn, batch)
        return ImportResult(read, inserted)

    async def _insert_batch(self, conn: AsyncConnection, batch: list[dict[str, Any]]) -> int:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING the key: the rows returned were new."""
        stmt = (
            self._insert(statement_lines)
            .on_conflict_do_nothing()
            .returning(statement_lines.c.provider_txn_id)
        )
        result = await conn.execute(stmt, batch)
        return len(result.all())

    async def staged_lines(self, provider: str, day: date) -> list[StatementLine]:
        """The day's staged lines, in report order."""
        query = (
            select(statement_lines)
            .where(
                statement_lines.c.provider == provider,
                statement_lines.c.statement_date == day,
            )
            .order_by(statement_lines.c.line_no)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            StatementLine(
                provider,
                r["line_no"],
                r["provider_txn_id"],
                r["reference"],
                r["external_id"],
                LineKind(r["kind"]),
                LineStatus(r["status"]),
                r["amount_minor"],
                r["charges_minor"],
                r["msisdn"],
                r["at"],
            )
            for r in rows
        ]

    async def attempts_for(self, provider: str, day: date) -> list[OurAttempt]:
        """Our attempts at the provider made from the day before to the day after."""
        start = datetime.combine(day, time(), UTC)
        t = payment_attempts.c
        query = select(
            t.reference,
            t.payment_id,
            t.kind,
            t.status,
            t.amount_minor,
            t.provider_charges_minor,
            t.provider_transaction_id,
            t.created_at,
        ).where(
            t.provider == provider,
            t.created_at >= start - timedelta(days=1),
            t.created_at < start + timedelta(days=2),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            OurAttempt(
                r["reference"],
                r["payment_id"],
                LINE_KIND_OF.get(r["kind"], r["kind"]),
                r["status"],
                r["amount_minor"],
                r["provider_charges_minor"],
                r["provider_transaction_id"],
                in_scope=start <= r["created_at"] < start + timedelta(days=1),
            )
            for r in rows
        ]

    async def run(self, provider: str, day: date, now: datetime) -> RunSummary:
        """Reconcile the staged day against our attempts and store the results."""
        lines = await self.staged_lines(provider, day)
        attempts = await self.attempts_for(provider, day)
        outcomes = reconcile(lines, attempts)
        return await self._store(provider, day, outcomes, (len(lines), attempts), now)

    async def _store(
        self,
        provider: str,
        day: date,
        outcomes: Sequence[Outcome],
        inputs: tuple[int, Sequence[OurAttempt]],
        now: datetime,
    ) -> RunSummary:
        line_count, attempts = inputs
        run_id = run_id_for(provider, day)
        counts = {k.value: v for k, v in exception_counts(outcomes).items()}
        exceptions = sum(v for k, v in counts.items() if k != MatchClass.MATCHED.value)
        scoped = sum(1 for a in attempts if a.in_scope)
        run_row = {
            "id": run_id,
            "provider": provider,
            "statement_date": day,
            "lines": line_count,
            "attempts": scoped,
            "exceptions": exceptions,
            "counts": counts,
            "runs": 1,
            "started_at": now,
            "finished_at": now,
        }
        upsert_run = self._insert(reconciliation_runs).values(run_row)
        upsert_run = upsert_run.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "lines": line_count,
                "attempts": scoped,
                "exceptions": exceptions,
                "counts": counts,
                "runs": reconciliation_runs.c.runs + 1,
                "finished_at": now,
            },
        )
        rows = [_item_row(run_id, provider, day, o) for o in outcomes]
        async with self._engine.begin() as conn:
            await conn.execute(upsert_run)
            for start in range(0, len(rows), _BATCH):
                stmt = self._insert(reconciliation_items)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"],
                    set_={c: stmt.excluded[c] for c in _ITEM_COLUMNS[4:]},
                )
                await conn.execute(stmt, rows[start : start + _BATCH])
            await self._drop_stale(conn, run_id, {r["key"] for r in rows})
            runs = int(
                await conn.scalar(
                    select(reconciliation_runs.c.runs).where(reconciliation_runs.c.id == run_id)
                )
                or 1
            )
        return RunSummary(run_id, provider, day, line_count, scoped, exceptions, counts, runs)

    @staticmethod
    async def _drop_stale(conn: AsyncConnection, run_id: str, keys: set[str]) -> None:
        t = reconciliation_items.c
        stored = await conn.execute(
            select(t.key).where(t.run_id == run_id, t.resolved_at.is_(None))
        )
        stale = [k for (k,) in stored if k not in keys]
        for start in range(0, len(stale), _BATCH):
            await conn.execute(
                delete(reconciliation_items).where(
                    t.run_id == run_id, t.key.in_(stale[start : start + _BATCH])
                )
            )

    async def runs(
        self, provider: str | None = None, day: date | None = None, limit: int = 100
    ) -> list[RunSummary]:
        """Stored runs, newest day first."""
        t = reconciliation_runs.c
        query = select(reconciliation_runs).order_by(t.statement_date.desc(), t.provider)
        if provider is not None:
            query = query.where(t.provider == provider)
        if day is not None:
            query = query.where(t.statement_date == day)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        return [
            RunSummary(
                r["id"],
                r["provider"],
                r["statement_date"],
                r["lines"],
                r["attempts"],
                r["exceptions"],
                dict(r["counts"]),
                r["runs"],
            )
            for r in rows
        ]

    async def exceptions(
        self,
        *,
        provider: str | None = None,
        day: date | None = None,
        match_class: str | None = None,
        include_resolved: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Items that are not `matched` (open ones only unless `include_resolved`)."""
        t = reconciliation_items.c
        query = select(reconciliation_items).where(t.match_class != MatchClass.MATCHED.value)
        if provider is not None:
            query = query.where(t.provider == provider)
        if day is not None:
            query = query.where(t.statement_date == day)
        if match_class is not None:
            query = query.where(t.match_class == match_class)
        if not include_resolved:
            query = query.where(t.resolved_at.is_(None))
        query = query.order_by(t.statement_date.desc(), t.run_id, t.key).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [item_json(r) for r in rows]

    async def open_counts(self) -> dict[str, int]:
        """Open exceptions per class (every class present)."""
        t = reconciliation_items.c
        query = (
            select(t.match_class, func.count())
            .where(t.match_class != MatchClass.MATCHED.value, t.resolved_at.is_(None))
            .group_by(t.match_class)
        )
        async with self._engine.connect() as conn:
            found = {k: int(v) for k, v in await conn.execute(query)}
        return {c.value: found.get(c.value, 0) for c in MatchClass if c.is_exception}

    async def resolve(
        self, run_id: str, key: str, *, actor: str, note: str, now: datetime
    ) -> dict[str, Any] | None:
        """Close an exception with a note (None: no such exception; write-once)."""
        t = reconciliation_items.c
        where = and_(t.run_id == run_id, t.key == key, t.match_class != MatchClass.MATCHED.value)
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(reconciliation_items).where(where))).mappings().first()
            if row is None:
                return None
            if row["resolved_at"] is not None:
                raise ItemAlreadyResolved(f"{run_id} {key}")
            await conn.execute(
                update(reconciliation_items)
                .where(where)
                .values(resolved_at=now, resolved_by=actor, resolution_note=note)
            )
            updated = (
                (await conn.execute(select(reconciliation_items).where(where))).mappings().one()
            )
        return item_json(updated)
