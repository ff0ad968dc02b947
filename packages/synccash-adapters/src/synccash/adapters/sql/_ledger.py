"""The ledger on SQL: postings written with each payment save, the Ledger port, refusals.

The rules live in the database (migration 0005): balanced entries, append-only postings,
guarded accounts never below 0. This module writes what `synccash.core.ledger.entries_for`
derives and maps the database's refusals to domain errors:

- PostgreSQL: a payment's entries go inside the one statement that adds or saves it (two
  more data-modifying CTEs over `unnest`ed arrays, `ON CONFLICT DO NOTHING` on the
  (reference, kind) key, guarded by the optimistic UPDATE like the other rows), so a
  posting costs no round trip of its own; see `ledger_ctes` and `ledger_params`.
- SQLite (and PostgreSQL outside the fast path): `write_entries` inserts the entries not
  stored yet, every posting first and then the entry rows (SQLite's closing rows).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.sql._tables import ledger_balances, ledger_entries, ledger_postings
from synccash.core.errors import InsufficientBalance, UnbalancedEntry
from synccash.core.ledger import (
    JournalEntry,
    Posting,
    PostingKind,
    balance_of,
    entries_for,
    implied_keys,
    is_guarded,
)
from synccash.core.ledger_verify import StoredPosting
from synccash.core.money import Money
from synccash.core.payment import Payment
from synccash.core.ports import EntryPage, EntryQuery, StoredEntry

#: SQLSTATEs the ledger's triggers raise on PostgreSQL (SQLite: the messages' prefixes).
OVERDRAFT_STATE: Final = "SC001"
UNBALANCED_STATE: Final = "SC002"
_OVERDRAFT_TEXT: Final = "ledger_overdraft"
_UNBALANCED_TEXT: Final = "ledger_unbalanced"


# --- refusals --------------------------------------------------------------------------
def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend((getattr(current, "orig", None), current.__cause__, current.__context__))


def ledger_refusal(exc: BaseException) -> InsufficientBalance | UnbalancedEntry | None:
    """The domain error for a database refusal by the ledger's triggers, or None."""
    for cause in _chain(exc):
        state = getattr(cause, "sqlstate", None)
        text = str(cause)
        if state == OVERDRAFT_STATE or _OVERDRAFT_TEXT in text:
            return InsufficientBalance(_message(text, _OVERDRAFT_TEXT))
        if state == UNBALANCED_STATE or _UNBALANCED_TEXT in text:
            return UnbalancedEntry(_message(text, _UNBALANCED_TEXT))
    return None


def _message(text: str, marker: str) -> str:
    start = text.find(marker)
    line = text[start:] if start >= 0 else text
    return line.splitlines()[0] if line else marker


# --- what a save newly implies ------------------------------------------------------------
#: id(payment) -> (the payment, the entry keys implied when it was loaded or last committed).
#: Only an optimisation (the database's key and ON CONFLICT DO NOTHING are the guarantee):
#: a save sends only the entries its payment did not already imply.
_KNOWN: dict[int, tuple[weakref.ref[Payment], frozenset[tuple[str, str]]]] = {}


def _forget(key: int, _gone: object = None) -> None:
    _KNOWN.pop(key, None)


def remember_posted(payment: Payment, keys: Iterable[tuple[str, str]] | None = None) -> None:
    """Record the entry keys the stored state of `payment` implies (on load and commit)."""
    known = implied_keys(payment) if keys is None else frozenset(keys)
    key = id(payment)
    held = _KNOWN.get(key)
    if held is not None and held[0]() is payment:
        _KNOWN[key] = (held[0], known)
        return
    _KNOWN[key] = (weakref.ref(payment, functools.partial(_forget, key)), known)


def unposted(payment: Payment) -> tuple[JournalEntry, ...]:
    """The entries `payment` implies that its loaded (or last committed) state did not.

    A save that implies nothing new (most of them) builds no entry: only its keys.
    """
    held = _KNOWN.get(id(payment))
    if held is None or held[0]() is not payment:
        return entries_for(payment)
    known = held[1]
    if implied_keys(payment) <= known:
        return ()
    return tuple(e for e in entries_for(payment) if e.key not in known)


# --- PostgreSQL: inside the payment's one statement -----------------------------------
_ENTRY_ARRAYS: Final = (
    ("le_reference", String()),
    ("le_kind", String()),
    ("le_payment_id", String()),
    ("le_merchant_id", String()),
    ("le_created_at", postgresql.TIMESTAMP(timezone=True)),
)
_POSTING_ARRAYS: Final = (
    ("lp_reference", String()),
    ("lp_kind", String()),
    ("lp_seq", Integer()),
    ("lp_account", String()),
    ("lp_currency", String()),
    ("lp_amount_minor", BigInteger()),
)


def _unnested(arrays: Sequence[tuple[str, Any]], names: Sequence[str], alias: str) -> Any:
    columns = [cast(bindparam(n, type_=ARRAY(t)), ARRAY(t)) for n, t in arrays]
    return func.unnest(*columns).table_valued(*names).render_derived(name=alias)


def ledger_ctes(guard: ColumnElement[bool] | None) -> list[Any]:
    """Two CTEs inserting the entries and postings bound by `ledger_params` (only if
    `guard` holds), each `ON CONFLICT DO NOTHING` on its key."""
    entry_cols = ["reference", "kind", "payment_id", "merchant_id", "created_at"]
    rows = _unnested(_ENTRY_ARRAYS, entry_cols, "ledger_entry_rows")
    picked = select(*(rows.c[c] for c in entry_cols))
    if guard is not None:
        picked = picked.where(guard)
    entries = (
        postgresql.insert(ledger_entries).from_select(entry_cols, picked).on_conflict_do_nothing()
    )
    posting_cols = [c.name for c in ledger_postings.columns]
    rows = _unnested(_POSTING_ARRAYS, posting_cols, "ledger_posting_rows")
    picked = select(*(rows.c[c] for c in posting_cols))
    if guard is not None:
        picked = picked.where(guard)
    postings = (
        postgresql.insert(ledger_postings)
        .from_select(posting_cols, picked)
        .on_conflict_do_nothing()
    )
    return [entries.cte("ledger_new_entries"), postings.cte("ledger_new_postings")]


def ledger_params(entries: Sequence[JournalEntry], at: datetime) -> dict[str, Any]:
    """The arrays `ledger_ctes` binds, for these entries posted at `at`."""
    params: dict[str, list[Any]] = {name: [] for name, _ in (*_ENTRY_ARRAYS, *_POSTING_ARRAYS)}
    for e in entries:
        params["le_reference"].append(e.reference)
        params["le_kind"].append(e.kind.value)
        params["le_payment_id"].append(e.payment_id)
        params["le_merchant_id"].append(e.merchant_id)
        params["le_created_at"].append(at)
        for seq, p in enumerate(e.postings, 1):
            params["lp_reference"].append(e.reference)
            params["lp_kind"].append(e.kind.value)
            params["lp_seq"].append(seq)
            params["lp_account"].append(p.account)
            params["lp_currency"].append(p.amount.currency)
            params["lp_amount_minor"].append(p.amount.minor)
    return params


# --- any dialect: statement by statement ------------------------------------------------
async def write_entries(
    conn: AsyncConnection, entries: Sequence[JournalEntry], at: datetime
) -> None:
    """Insert the entries not stored yet: every posting, then the entry rows (inside the
    caller's transaction). Raises InsufficientBalance when a guarded account would go
    below 0 (SQLite: here; PostgreSQL: at commit)."""
    if not entries:
        return
    keys = {e.key for e in entries}
    stored = await conn.execute(
        select(ledger_entries.c.reference, ledger_entries.c.kind).where(
            tuple_(ledger_entries.c.reference, ledger_entries.c.kind).in_(list(keys))
        )
    )
    done = {(r.reference, r.kind) for r in stored}
    fresh = [e for e in entries if e.key not in done]
    if not fresh:
        return
    postings = [
        {
            "reference": e.reference,
            "kind": e.kind.value,
            "seq": seq,
            "account": p.account,
            "currency": p.amount.currency,
            "amount_minor": p.amount.minor,
        }
        for e in fresh
        for seq, p in enumerate(e.postings, 1)
    ]
    rows = [
        {
            "reference": e.reference,
            "kind": e.kind.value,
            "payment_id": e.payment_id,
            "merchant_id": e.merchant_id,
            "created_at": at,
        }
        for e in fresh
    ]
    try:
        await conn.execute(insert(ledger_postings), postings)
        await conn.execute(insert(ledger_entries), rows)
    except DBAPIError as exc:
        refusal = ledger_refusal(exc)
        if refusal is not None:
            raise refusal from exc
        raise


# --- the Ledger port ----------------------------------------------------------------------
class SqlLedger:
    """Ledger port on an engine: posts in its own transaction, reads committed books."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def post(self, entries: Sequence[JournalEntry], at: datetime) -> None:
        """Write the entries not posted yet, atomically; InsufficientBalance writes nothing."""
        try:
            async with self._engine.begin() as conn:
                await write_entries(conn, entries, at)
        except DBAPIError as exc:
            refusal = ledger_refusal(exc)
            if refusal is not None:
                raise refusal from exc
            raise

    async def balance(self, account: str, currency: str = "GHS") -> Money:
        """A guarded account from ledger_balances (one key lookup), any other by summing."""
        async with self._engine.connect() as conn:
            if is_guarded(account):
                value = await conn.scalar(
                    select(ledger_balances.c.balance_minor).where(
                        ledger_balances.c.account == account,
                        ledger_balances.c.currency == currency,
                    )
                )
                return Money(int(value or 0), currency)
            total = await conn.scalar(
                select(func.coalesce(func.sum(ledger_postings.c.amount_minor), 0)).where(
                    ledger_postings.c.account == account, ledger_postings.c.currency == currency
                )
            )
        return balance_of(account, int(total or 0), currency)

    async def balances(self, prefix: str = "") -> Mapping[tuple[str, str], Money]:
        """Every account starting with `prefix`, from the postings."""
        p = ledger_postings.c
        stmt = select(p.account, p.currency, func.sum(p.amount_minor).label("total"))
        if prefix:
            stmt = stmt.where(p.account.startswith(prefix, autoescape=True))
        stmt = stmt.group_by(p.account, p.currency).order_by(p.account, p.currency)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            (r.account, r.currency): balance_of(r.account, int(r.total), r.currency) for r in rows
        }

    async def stored_postings(self) -> list[StoredPosting]:
        """Every posting with its entry's payment, in journal order (for `verify`)."""
        e, p = ledger_entries.c, ledger_postings.c
        stmt = (
            select(p.reference, p.kind, p.seq, p.account, p.currency, p.amount_minor, e.payment_id)
            .select_from(
                ledger_postings.outerjoin(
                    ledger_entries, and_(e.reference == p.reference, e.kind == p.kind)
                )
            )
            .order_by(e.id, p.seq)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            StoredPosting(
                r.reference,
                r.kind,
                int(r.seq),
                r.account,
                r.currency,
                int(r.amount_minor),
                r.payment_id,
            )
            for r in rows
        ]

    async def stored_balances(self) -> dict[tuple[str, str], int]:
        """ledger_balances as stored (normal side), for `verify`."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(ledger_balances))).all()
        return {(r.account, r.currency): int(r.balance_minor) for r in rows}

    async def entries(self, query: EntryQuery) -> EntryPage:
        """Entries in journal order after the cursor, with their postings."""
        e, p = ledger_entries.c, ledger_postings.c
        stmt = select(ledger_entries)
        if query.accounts:
            stmt = stmt.where(
                exists().where(
                    and_(
                        p.reference == e.reference, p.kind == e.kind, p.account.in_(query.accounts)
                    )
                )
            )
        if query.cursor:
            stmt = stmt.where(e.id > int(query.cursor))
        limit = max(1, query.limit)
        stmt = stmt.order_by(e.id).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()[: limit + 1]
            page = rows[:limit]
            lines = await _postings_of(conn, [(r.reference, r.kind) for r in page])
        items = [
            StoredEntry(
                int(r.id),
                r.created_at,
                JournalEntry(
                    r.reference,
                    PostingKind(r.kind),
                    lines.get((r.reference, r.kind), ()),
                    payment_id=r.payment_id,
                    merchant_id=r.merchant_id,
                ),
            )
            for r in page
        ]
        return EntryPage(items, str(items[-1].position) if len(rows) > limit else None)


async def _postings_of(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Posting]]:
    if not keys:
        return {}
    p = ledger_postings.c
    rows = await conn.execute(
        select(ledger_postings)
        .where(tuple_(p.reference, p.kind).in_(list(keys)))
        .order_by(p.reference, p.kind, p.seq)
    )
    out: dict[tuple[str, str], list[Posting]] = {}
    for r in rows:
        out.setdefault((r.reference, r.kind), []).append(
            Posting(r.account, Money(int(r.amount_minor), r.currency))
        )
    return out


__all__ = [
    "OVERDRAFT_STATE",
    "UNBALANCED_STATE",
    "SqlLedger",
    "ledger_ctes",
    "ledger_params",
    "ledger_refusal",
    "remember_posted",
    "unposted",
    "write_entries",
]
