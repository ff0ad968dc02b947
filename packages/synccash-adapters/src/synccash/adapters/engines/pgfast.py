"""Engine: PostgreSQL fast paths, one round trip to add, save or load a payment with
everything on it, each statement compiled once.

Replaces: SQLAlchemy's statement-per-table writes and its per-call compilation of DML in
CTEs (~1 ms a call) on PostgreSQL.
Why: a new payment and a saved change in one round trip each (commits 63b97d8, bbdc0ec);
binds precompiled (a save's bind 17.0 -> 13.1 us, 364e1fa).
Switch off: not a setting; SQLite takes the plain statement-per-table path of the same
repository, and ENGINE_GROUP_COMMIT=off sends these statements unbatched.

Data-modifying CTEs (`WITH x AS (INSERT ...)`) run exactly once inside one statement, and
foreign keys are checked at its end, so a payment and its attempts, events and outbox rows
go in together. SQLite has no DML in CTEs and takes the plain statement-per-table path;
both paths build their rows with the same mapping functions.

SQLAlchemy cannot cache-key DML inside CTEs or multi-row VALUES, so it would recompile such
a statement on every call (~1 ms). Each shape (number of attempts and events) is compiled
once here instead; the two non-trivial column types are converted by hand, as their binds do.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from attrs import frozen
from sqlalchemy import (
    JSON,
    ClauseElement,
    Dialect,
    Table,
    any_,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
    values,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.compiler import SQLCompiler

from synccash.adapters.sql._ledger import ledger_ctes, ledger_params
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
from synccash.adapters.sql._types import UtcDateTime, dumps
from synccash.core.ledger import JournalEntry
from synccash.core.payment import Payment, PaymentEvent

#: Columns an UPDATE may change (identity, creation and idempotency are immutable).
IMMUTABLE: Final = frozenset(
    {"id", "merchant_id", "kind", "idempotency_key", "fingerprint", "created_at"}
)
#: Attempt columns an upsert refreshes.
ATTEMPT_MUTABLE: Final = (
    "status",
    "provider_transaction_id",
    "error_code",
    "failure_reason",
    "submit_count",
    "poll_count",
    "updated_at",
    "provider_charges_minor",
)


@frozen
class CompiledStatement:
    """A compiled statement, its positional parameter names and the converter to driver values."""

    sql: str
    names: tuple[str, ...]
    bind: Callable[[dict[str, Any]], tuple[Any, ...]]


def _driver_value(type_: Any) -> Callable[[Any], Any] | None:
    if isinstance(type_, UtcDateTime):
        return lambda v: None if v is None else v.astimezone(UTC)
    if isinstance(type_, JSON):
        return lambda v: None if v is None else dumps(v)
    return None


def _compile(statement: ClauseElement, dialect: Dialect) -> CompiledStatement:
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler):
        raise TypeError(f"expected a SQL statement, got {type(compiled).__name__}")
    types = {b.key: b.type for b in compiled.binds.values()}
    names = tuple(compiled.positiontup or ())
    getter = operator.itemgetter(*names) if names else (lambda _: ())
    converts = tuple(
        (i, convert)
        for i, convert in enumerate(_driver_value(types[name]) for name in names)
        if convert is not None
    )

    def bind(named: dict[str, Any]) -> tuple[Any, ...]:
        values = getter(named)
        if len(names) == 1:
            values = (values,)
        if not converts:
            return tuple(values)
        out = list(values)
        for i, convert in converts:
            out[i] = convert(out[i])
        return tuple(out)

    return CompiledStatement(compiled.string, names, bind)


_COMPILED: dict[tuple[str, str, str, int, int], CompiledStatement] = {}


def compile_once(
    kind: str, dialect: Dialect, build: Callable[[], ClauseElement]
) -> CompiledStatement:
    """`build()`'s statement compiled once per kind and driver (binds in positional order)."""
    key = (kind, dialect.name, str(dialect.driver), 0, 0)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _compile(build(), dialect)
    return compiled


def compile_lateral(
    kind: str, dialect: Dialect, build: Callable[[], ClauseElement]
) -> tuple[CompiledStatement, str]:
    """`build()`'s one-row SELECT, and the same SELECT for many parameter sets at once.

    The second statement takes each parameter as an array (one element per set), unnests
    them WITH ORDINALITY and runs the SELECT LATERAL for each set: a row per set, tagged
    `batch_ord` (1-based position). Bind each set with the first statement's `bind`.
    """
    single = compile_once(kind, dialect, build)
    key = (f"{kind}:lateral", dialect.name, str(dialect.driver), 0, 0)
    batched = _LATERAL.get(key)
    if batched is None:
        compiled = build().compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"expected a SQL statement, got {type(compiled).__name__}")
        types = {b.key: b.type for b in compiled.binds.values()}
        type_names = [dialect.type_compiler_instance.process(types[n]) for n in single.names]
        inner = re.sub(r"\$(\d+)(?!\d)", lambda m: f"batch.p{m.group(1)}", single.sql)
        arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(type_names, 1))
        columns = ", ".join(f"p{i}" for i in range(1, len(type_names) + 1))
        # only our own compiled SQL and type names go in; the values stay bound parameters
        batched = _LATERAL[key] = (
            f"SELECT batch.ord AS batch_ord, one.* FROM unnest({arrays}) "  # noqa: S608
            f"WITH ORDINALITY AS batch({columns}, ord) CROSS JOIN LATERAL ({inner}) AS one"
        )
    return single, batched


_LATERAL: dict[tuple[str, str, str, int, int], str] = {}


def _cached(
    kind: str,
    dialect: Dialect,
    attempts: int,
    events: int,
    build: Callable[[Dialect, int, int], CompiledStatement],
) -> CompiledStatement:
    """One compilation per statement kind, driver and shape (not per engine)."""
    key = (kind, dialect.name, str(dialect.driver), attempts, events)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = build(dialect, attempts, events)
    return compiled


def _bound(table: Table, prefix: str) -> dict[str, Any]:
    return {c.name: bindparam(f"{prefix}{c.name}", type_=c.type) for c in table.columns}


def _guarded_rows(table: Table, prefix: str, count: int, guard: Any) -> Any:
    """SELECT over a VALUES list of `count` bound rows, only if `guard` holds."""
    rows = values(*(column(c.name, c.type) for c in table.columns), name=f"{table.name}_rows")
    rows = rows.data(
        [
            tuple(bindparam(f"{prefix}{i}_{c.name}", type_=c.type) for c in table.columns)
            for i in range(count)
        ]
    )
    return select(*(rows.c[c.name] for c in table.columns)).where(guard)


# --- a new payment ------------------------------------------------------------------
def _new_payment_compiled(
    dialect: Dialect, attempts: int, events: int, *, ledger: bool = False
) -> CompiledStatement:
    ctes = [insert(payments).values(_bound(payments, "p_")).cte("new_payment")]
    if attempts:
        rows = [_bound(payment_attempts, f"a{i}_") for i in range(attempts)]
        ctes.append(insert(payment_attempts).values(rows).cte("new_attempts"))
    rows = [_bound(payment_events, f"e{i}_") for i in range(events)]
    ctes.append(insert(payment_events).values(rows).cte("new_events"))
    if ledger:
        ctes.extend(ledger_ctes(None))
    outbox_rows = [_bound(outbox, f"o{i}_") for i in range(events)]
    return _compile(insert(outbox).values(outbox_rows).add_cte(*ctes), dialect)


def compile_new_payment(
    dialect: Dialect, attempts: int, events: int, *, ledger: bool = False
) -> CompiledStatement:
    """INSERT ... WITH ... of a payment with this many attempts and (>= 1) new events
    (and, with `ledger`, the journal entries of `ledger_params`)."""
    if ledger:
        return _cached("new+ledger", dialect, attempts, events, _new_payment_with_ledger)
    return _cached("new", dialect, attempts, events, _new_payment_compiled)


def _new_payment_with_ledger(dialect: Dialect, attempts: int, events: int) -> CompiledStatement:
    return _new_payment_compiled(dialect, attempts, events, ledger=True)


def new_payment_params(
    payment: Payment,
    fresh: Sequence[PaymentEvent],
    entries: Sequence[JournalEntry] = (),
) -> dict[str, Any]:
    """Named values for compile_new_payment's statement."""
    params = {f"p_{k}": v for k, v in payment_to_row(payment).items()}
    if entries:
        params.update(ledger_params(entries, payment.updated_at))
    for i, attempt in enumerate(payment.attempts):
        params.update({f"a{i}_{k}": v for k, v in attempt_to_row(payment.id, attempt).items()})
    for i, event in enumerate(fresh):
        params.update({f"e{i}_{k}": v for k, v in event_to_row(event).items()})
        params.update({f"o{i}_{k}": v for k, v in outbox_row(payment, event).items()})
    return params


# --- a saved change ---------------------------------------------------------------------
def _save_compiled(
    dialect: Dialect, attempts: int, events: int, *, strict: bool = False, ledger: bool = False
) -> CompiledStatement:
    changed = {
        c.name: bindparam(f"p_{c.name}", type_=c.type)
        for c in payments.columns
        if c.name not in IMMUTABLE
    }
    updated = (
        update(payments)
        .where(
            payments.c.id == bindparam("where_id", type_=payments.c.id.type),
            payments.c.version == bindparam("where_version", type_=payments.c.version.type),
        )
        .values(changed)
        .returning(payments.c.id)
        .cte("updated")
    )
    # the rows below are written only if the optimistic UPDATE matched
    guard = exists(select(updated.c.id))
    ctes = []
    if attempts:
        upsert = postgresql.insert(payment_attempts).from_select(
            [c.name for c in payment_attempts.columns],
            _guarded_rows(payment_attempts, "a", attempts, guard),
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[payment_attempts.c.reference],
            set_={name: upsert.excluded[name] for name in ATTEMPT_MUTABLE},
        )
        ctes.append(upsert.cte("saved_attempts"))
    if events:
        for table, prefix, name in (
            (payment_events, "e", "new_events"),
            (outbox, "o", "new_outbox"),
        ):
            ctes.append(
                insert(table)
                .from_select(
                    [c.name for c in table.columns], _guarded_rows(table, prefix, events, guard)
                )
                .cte(name)
            )
    if ledger:
        ctes.extend(ledger_ctes(guard))
    matched: Any = func.count()
    if strict:
        # 1 / count: a division by zero (an error, so the statement writes nothing) when
        # the version did not match; a group-committed batch has no per-statement results
        matched = literal_column("1") / func.count()
    statement = select(matched).select_from(updated)
    if ctes:
        statement = statement.add_cte(*ctes)
    return _compile(statement, dialect)


def _save_strict_compiled(dialect: Dialect, attempts: int, events: int) -> CompiledStatement:
    return _save_compiled(dialect, attempts, events, strict=True)


def _save_strict_ledger(dialect: Dialect, attempts: int, events: int) -> CompiledStatement:
    return _save_compiled(dialect, attempts, events, strict=True, ledger=True)


def _save_ledger(dialect: Dialect, attempts: int, events: int) -> CompiledStatement:
    return _save_compiled(dialect, attempts, events, ledger=True)


def compile_save_strict(
    dialect: Dialect, attempts: int, events: int, *, ledger: bool = False
) -> CompiledStatement:
    """compile_save's statement, failing with division_by_zero (22012) when the version did
    not match, instead of returning 0. Same parameters, in the same order."""
    if ledger:
        return _cached("save_strict+ledger", dialect, attempts, events, _save_strict_ledger)
    return _cached("save_strict", dialect, attempts, events, _save_strict_compiled)


def compile_save(
    dialect: Dialect, attempts: int, events: int, *, ledger: bool = False
) -> CompiledStatement:
    """UPDATE ... WHERE version matches, plus attempt upserts, events and outbox rows (and,
    with `ledger`, the journal entries of `ledger_params`).

    Returns one row: 1 if the version matched (everything written), 0 if not (nothing written).
    """
    if ledger:
        return _cached("save+ledger", dialect, attempts, events, _save_ledger)
    return _cached("save", dialect, attempts, events, _save_compiled)


def save_params(
    payment: Payment,
    expected_version: int,
    fresh: Sequence[PaymentEvent],
    entries: Sequence[JournalEntry] = (),
) -> dict[str, Any]:
    """Named values for compile_save's statement."""
    row = payment_to_row(payment)
    row["version"] = expected_version + 1
    params = {f"p_{k}": v for k, v in row.items() if k not in IMMUTABLE}
    params["where_id"] = payment.id
    params["where_version"] = expected_version
    if entries:
        params.update(ledger_params(entries, payment.updated_at))
    for i, attempt in enumerate(payment.attempts):
        params.update({f"a{i}_{k}": v for k, v in attempt_to_row(payment.id, attempt).items()})
    for i, event in enumerate(fresh):
        params.update({f"e{i}_{k}": v for k, v in event_to_row(event).items()})
        params.update({f"o{i}_{k}": v for k, v in outbox_row(payment, event).items()})
    return params


# --- a payment with its attempts and audit trail ------------------------------------------
def _aggregated(table: Table, alias: str) -> Any:
    """json_agg of every row of `table` for the payment, as arrays in column order, by seq."""
    rows = table.alias(alias)
    doc = func.json_agg(aggregate_order_by(func.json_build_array(*rows.columns), rows.c.seq))
    return (
        select(func.coalesce(doc, literal_column("'[]'::json"), type_=JSON()))
        .where(rows.c.payment_id == payments.c.id)
        .scalar_subquery()
    )


@functools.cache
def children_columns() -> tuple[Any, Any]:
    """The two extra columns a PostgreSQL payment SELECT carries: attempts and events."""
    return (
        _aggregated(payment_attempts, "child_attempts").label("attempts_doc"),
        _aggregated(payment_events, "child_events").label("events_doc"),
    )


def _from_doc(table: Table, doc: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip((c.name for c in table.columns), doc, strict=True))
    for c in table.columns:
        if isinstance(c.type, UtcDateTime) and row[c.name] is not None:
            row[c.name] = datetime.fromisoformat(row[c.name]).astimezone(UTC)
    return row


def payment_with_children(row: Any) -> Payment:
    """A Payment from a children_columns() row (the JSON docs mapped column by column)."""
    attempts = [attempt_from_row(_from_doc(payment_attempts, d)) for d in row["attempts_doc"]]
    events = [event_from_row(_from_doc(payment_events, d)) for d in row["events_doc"]]
    return payment_from_row(row, attempts, events)


def _get_compiled(dialect: Dialect, by: int, _unused: int) -> CompiledStatement:
    stmt = select(payments, *children_columns())
    if by == _BY_REFERENCE:
        owner = select(payment_attempts.c.payment_id).where(
            payment_attempts.c.reference
            == bindparam("reference", type_=payment_attempts.c.reference.type)
        )
        return _compile(stmt.where(payments.c.id.in_(owner.scalar_subquery())), dialect)
    stmt = stmt.where(payments.c.id == bindparam("id", type_=payments.c.id.type))
    if by == _BY_ID_AND_MERCHANT:
        stmt = stmt.where(
            payments.c.merchant_id == bindparam("merchant_id", type_=payments.c.merchant_id.type)
        )
    return _compile(stmt, dialect)


_BY_ID: Final = 0
_BY_ID_AND_MERCHANT: Final = 1
_BY_REFERENCE: Final = 2


def compile_get(dialect: Dialect, *, scoped: bool) -> CompiledStatement:
    """SELECT of one payment by id (and merchant when scoped) with its attempts and events.

    Positional parameters: the id, then the merchant id when scoped.
    """
    return _cached("get", dialect, _BY_ID_AND_MERCHANT if scoped else _BY_ID, 0, _get_compiled)


def compile_load_many(dialect: Dialect) -> CompiledStatement:
    """SELECT of the payments whose ids are in the one array parameter, with their attempts
    and the seq of their last event, not the audit trail itself (PostgreSQL:
    `id = ANY($1)`; rows in no particular order). Map rows with `payment_to_act_on`."""

    def build() -> ClauseElement:
        ids = bindparam("ids", type_=postgresql.ARRAY(payments.c.id.type))
        last = payment_events.alias("last_event")
        last_seq = (
            select(func.coalesce(func.max(last.c.seq), literal_column("0")))
            .where(last.c.payment_id == payments.c.id)
            .scalar_subquery()
        )
        return select(payments, children_columns()[0], last_seq.label("history_seq")).where(
            payments.c.id == any_(ids)
        )

    return compile_once("load_many", dialect, build)


def payment_to_act_on(row: Any) -> Payment:
    """A Payment from a compile_load_many row: attempts, no stored events, `history_seq`."""
    attempts = [attempt_from_row(_from_doc(payment_attempts, d)) for d in row["attempts_doc"]]
    payment = payment_from_row(row, attempts, [])
    payment.history_seq = row["history_seq"]
    return payment


def compile_get_by_reference(dialect: Dialect) -> CompiledStatement:
    """SELECT of the payment owning an attempt reference (the one parameter)."""
    return _cached("get", dialect, _BY_REFERENCE, 0, _get_compiled)
