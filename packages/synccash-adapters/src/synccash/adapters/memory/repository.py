"""In-memory PaymentRepository, UnitOfWork, Outbox and RiskContext.

Same semantics as `synccash.adapters.sql` (one contract test suite runs on both):
nothing is visible to others before commit, save() is optimistic on `version`,
a duplicate (merchant_id, idempotency_key) is a ConcurrencyConflict, and every
new event gets an outbox row in the same commit. Stored payments are private
copies: mutating a loaded Payment changes nothing until it is saved and committed.
"""

from __future__ import annotations

import builtins
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import Any, Final, Self

from attrs import define, evolve, field

from synccash.adapters.event_payload import event_payload, outbox_id
from synccash.adapters.memory.ledger import InMemoryBooks
from synccash.core.errors import ConcurrencyConflict
from synccash.core.fraud import RiskSignals
from synccash.core.ledger import InsufficientBalance, JournalEntry, entries_for
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import (
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentState,
    is_wallet_payee_key,
)
from synccash.core.ports import AttemptOwner, DailyRow, OutboxRow, PaymentPage, PaymentQuery

#: Same namespace as synccash.adapters.sql: one event has one id in every store.

_FINAL_STATES: Final = frozenset(
    {PaymentState.FAILED, PaymentState.EXPIRED, PaymentState.CANCELLED, PaymentState.REFUNDED}
)
_KNOWN_STATES: Final = frozenset({PaymentState.CONFIRMED, PaymentState.REFUNDED})
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
MONTH: Final = timedelta(days=30)
TEN_MINUTES: Final = timedelta(minutes=10)


def _json_copy(value: Any) -> Any:
    """Copy the JSON-like containers (dicts and lists); leaves are immutable."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value


def _clone(payment: Payment, events: list[PaymentEvent]) -> Payment:
    """A private copy with no pending events (much cheaper than copy.deepcopy).

    Values (Money, Msisdn, Wallet, Payee, PaymentEvent) are frozen and shared; the mutable
    parts (attempts, lists, JSON documents) are copied, so nobody can change what is stored.
    """
    return evolve(
        payment,
        metadata=_json_copy(payment.metadata),
        routing=None if payment.routing is None else _json_copy(payment.routing),
        risk=None if payment.risk is None else _json_copy(payment.risk),
        fee_quote=None if payment.fee_quote is None else _json_copy(payment.fee_quote),
        attempts=[evolve(a) for a in payment.attempts],
        events=events,
        new_events=[],
    )


def _snapshot(payment: Payment) -> Payment:
    """A private copy, with the audit trail but no pending events."""
    return _clone(payment, list(payment.events))


@define
class _Row:
    """One stored payment: the snapshot and its append-only trail."""

    payment: Payment
    events: list[PaymentEvent] = field(factory=list)


@define
class InMemoryStore:
    """Committed state shared by every unit of work (one per process or per test)."""

    rows: dict[str, _Row] = field(factory=dict)
    outbox: dict[str, OutboxRow] = field(factory=dict)
    published: dict[str, datetime] = field(factory=dict)
    blocklist: dict[str, str] = field(factory=dict)
    # indexes, like the database's unique constraints: O(1) idempotency and callback lookups
    keys: dict[tuple[str, str], str] = field(factory=dict)  # (merchant, key) -> payment id
    references: dict[str, str] = field(factory=dict)  # attempt reference -> payment id
    # what the database's (payer, created_at), (payee_key, created_at) and attempt msisdn
    # indexes serve: payment ids touching an MSISDN (as payer or attempt) or a payee
    by_msisdn: dict[str, set[str]] = field(factory=dict)
    by_payee: dict[str, set[str]] = field(factory=dict)
    books: InMemoryBooks = field(factory=InMemoryBooks)  # the ledger, posted with each commit

    def key_owner(self, merchant_id: str, key: str | None) -> str | None:
        """The id of the committed payment holding this idempotency key, if any."""
        return None if key is None else self.keys.get((merchant_id, key))

    def put(self, snapshot: Payment, events: Sequence[PaymentEvent]) -> None:
        """Store a committed snapshot, append its new events and index it."""
        row = self.rows.setdefault(snapshot.id, _Row(snapshot))
        row.payment = snapshot
        row.events.extend(events)
        if snapshot.idempotency_key is not None:
            self.keys[(snapshot.merchant_id, snapshot.idempotency_key)] = snapshot.id
        for attempt in snapshot.attempts:
            self.references[attempt.reference] = snapshot.id
            self.by_msisdn.setdefault(attempt.msisdn.e164, set()).add(snapshot.id)
        self.by_msisdn.setdefault(snapshot.payer.e164, set()).add(snapshot.id)
        self.by_payee.setdefault(snapshot.payee.key, set()).add(snapshot.id)

    def payments_of(self, ids: set[str] | None, exclude: str) -> list[Payment]:
        """The committed payments with these ids, except `exclude`."""
        return [self.rows[i].payment for i in ids or () if i != exclude]


@define
class _Written:
    payment: Payment
    original_version: int
    events_written: int = 0


@define
class _Staged:
    """Writes of one unit of work, applied to the store at commit."""

    payments: dict[str, Payment] = field(factory=dict)  # id -> snapshot to store
    base_versions: dict[str, int | None] = field(factory=dict)  # id -> version read (None: add)
    events: dict[str, list[PaymentEvent]] = field(factory=dict)
    outbox: list[OutboxRow] = field(factory=list)
    written: dict[int, _Written] = field(factory=dict)


class InMemoryPaymentRepository:
    """PaymentRepository over an InMemoryStore, staging writes in its unit of work."""

    def __init__(self, store: InMemoryStore, staged: _Staged) -> None:
        self._store = store
        self._staged = staged

    # --- writes -------------------------------------------------------------------
    async def add(self, payment: Payment) -> None:
        """Stage a new payment; a duplicate id or idempotency key is a ConcurrencyConflict."""
        if payment.id in self._store.rows or payment.id in self._staged.payments:
            raise ConcurrencyConflict(f"payment {payment.id} already exists")
        if payment.idempotency_key is not None and (
            self._store.key_owner(payment.merchant_id, payment.idempotency_key) is not None
            or any(
                p.merchant_id == payment.merchant_id
                and p.idempotency_key == payment.idempotency_key
                for p in self._staged.payments.values()
            )
        ):
            raise ConcurrencyConflict(
                f"idempotency key {payment.idempotency_key!r} of merchant "
                f"{payment.merchant_id} already exists"
            )
        entry = self._track(payment)
        self._staged.base_versions[payment.id] = None
        self._stage(entry)

    async def save(self, payment: Payment) -> None:
        """Stage an update if the stored version is the one this payment was read at."""
        current = self._current(payment.id)
        if current is None or current.version != payment.version:
            raise ConcurrencyConflict(
                f"payment {payment.id} changed since it was read (version {payment.version}); "
                "reload and retry"
            )
        stored = self._store.rows.get(payment.id)
        entry = self._track(payment)
        self._staged.base_versions.setdefault(
            payment.id, None if stored is None else stored.payment.version
        )
        payment.version += 1
        self._stage(entry)

    def _track(self, payment: Payment) -> _Written:
        entry = self._staged.written.get(id(payment))
        if entry is None:
            entry = _Written(payment, payment.version)
            self._staged.written[id(payment)] = entry
        return entry

    def _stage(self, entry: _Written) -> None:
        payment = entry.payment
        fresh = payment.new_events[entry.events_written :]
        self._staged.payments[payment.id] = _snapshot(payment)
        self._staged.events.setdefault(payment.id, []).extend(fresh)
        self._staged.outbox.extend(
            OutboxRow(
                id=outbox_id(e.payment_id, e.seq),
                payment_id=e.payment_id,
                seq=e.seq,
                type=e.type,
                payload=event_payload(payment, e),
                created_at=e.at,
            )
            for e in fresh
        )
        entry.events_written += len(fresh)

    # --- reads (this unit of work sees its own writes) ---------------------------------
    def _current(self, payment_id: str) -> Payment | None:
        staged = self._staged.payments.get(payment_id)
        if staged is not None:
            return staged
        row = self._store.rows.get(payment_id)
        return None if row is None else row.payment

    def _visible(self) -> builtins.list[Payment]:
        merged = {pid: row.payment for pid, row in self._store.rows.items()}
        merged.update(self._staged.payments)
        return builtins.list(merged.values())

    def _trail(self, payment_id: str) -> builtins.list[PaymentEvent]:
        row = self._store.rows.get(payment_id)
        committed = [] if row is None else row.events
        return [*committed, *self._staged.events.get(payment_id, [])]

    def _load(self, payment: Payment | None) -> Payment | None:
        if payment is None:
            return None
        return _clone(payment, self._trail(payment.id))

    async def get(self, payment_id: str, merchant_id: str | None = None) -> Payment | None:
        """One payment (scoped to a merchant when given), or None."""
        payment = self._current(payment_id)
        if payment is not None and merchant_id is not None and payment.merchant_id != merchant_id:
            return None
        return self._load(payment)

    async def get_by_idempotency_key(self, merchant_id: str, key: str) -> Payment | None:
        """The payment created with this merchant's idempotency key, or None."""
        for payment in self._staged.payments.values():
            if payment.merchant_id == merchant_id and payment.idempotency_key == key:
                return self._load(payment)
        owner = self._store.key_owner(merchant_id, key)
        return None if owner is None else self._load(self._current(owner))

    async def get_by_attempt_reference(self, reference: str) -> Payment | None:
        """The payment owning the attempt with this reference, or None."""
        for payment in self._staged.payments.values():
            if payment.attempt_by_reference(reference) is not None:
                return self._load(payment)
        owner = self._store.references.get(reference)
        return None if owner is None else self._load(self._current(owner))

    async def load(self, payment_id: str) -> Payment | None:
        """The payment to act on; in memory with its whole trail (as `get`)."""
        return await self.get(payment_id)

    async def attempt_owner(self, reference: str) -> AttemptOwner | None:
        """Which payment and provider an attempt reference belongs to, or None."""
        for staged in self._staged.payments.values():
            attempt = staged.attempt_by_reference(reference)
            if attempt is not None:
                return AttemptOwner(staged.id, attempt.provider)
        owner = self._store.references.get(reference)
        payment = None if owner is None else self._current(owner)
        attempt = None if payment is None else payment.attempt_by_reference(reference)
        return None if attempt is None or owner is None else AttemptOwner(owner, attempt.provider)

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """A merchant's payments, newest first, keyset-paginated on (created_at, id)."""
        matches = [
            p
            for p in self._visible()
            if p.merchant_id == merchant_id
            and (query.state is None or p.state is query.state)
            and (query.provider is None or p.provider is query.provider)
            and (query.created_from is None or p.created_at >= query.created_from)
            and (query.created_to is None or p.created_at < query.created_to)
            and (query.reference is None or p.reference == query.reference)
            and (query.kind is None or p.kind is query.kind)
        ]
        matches.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        if query.cursor is not None:
            anchor = self._current(query.cursor)
            if anchor is None or anchor.merchant_id != merchant_id:
                matches = []
            else:
                key = (anchor.created_at, anchor.id)
                matches = [p for p in matches if (p.created_at, p.id) < key]
        limit = max(1, query.limit)
        items = [self._load(p) for p in matches[:limit]]
        page = [p for p in items if p is not None]
        return PaymentPage(items=page, next_cursor=page[-1].id if len(matches) > limit else None)

    async def due(self, now: datetime, limit: int) -> Sequence[str]:
        """Overdue non-final payments, oldest next action first."""
        overdue = [
            p
            for p in self._visible()
            if p.next_action_at is not None
            and p.next_action_at <= now
            and p.state not in _FINAL_STATES
        ]
        overdue.sort(key=lambda p: (p.next_action_at or now, p.id))
        return [p.id for p in overdue[:limit]]

    async def events(self, payment_id: str) -> Sequence[PaymentEvent]:
        """The audit trail, in order."""
        return self._trail(payment_id)

    async def daily_totals(self, merchant_id: str, day: date) -> Sequence[DailyRow]:
        """Counts and sums of the merchant's payments created on `day` (UTC)."""
        start = datetime.combine(day, time(0), tzinfo=UTC)
        groups: dict[tuple[PaymentState, object], builtins.list[Payment]] = {}
        for p in self._visible():
            if p.merchant_id == merchant_id and start <= p.created_at < start + DAY:
                groups.setdefault((p.state, p.provider), []).append(p)
        rows = [
            DailyRow(
                state=state,
                provider=members[0].provider,
                count=len(members),
                amount_minor=sum(p.amount.minor for p in members),
                fee_minor=sum(p.fee_minor for p in members),
            )
            for (state, _), members in groups.items()
        ]
        return sorted(
            rows, key=lambda r: (r.state.value, "" if r.provider is None else r.provider.value)
        )


class InMemoryUnitOfWork:
    """UnitOfWork over an InMemoryStore: everything staged becomes visible at commit, at once."""

    payments: InMemoryPaymentRepository

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self._staged = _Staged()
        self.payments = InMemoryPaymentRepository(store, self._staged)
        self.committed = False

    async def __aenter__(self) -> Self:
        """Begin."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed."""
        await self.rollback()

    async def commit(self) -> None:
        """Apply every staged write, or raise ConcurrencyConflict and apply none."""
        staged, store = self._staged, self.store
        # re-check against what other units of work committed since the writes were staged
        for pid, snapshot in staged.payments.items():
            base = staged.base_versions.get(pid)
            row = store.rows.get(pid)
            if base is None:
                owner = store.key_owner(snapshot.merchant_id, snapshot.idempotency_key)
                if row is not None or owner is not None:
                    await self.rollback()
                    raise ConcurrencyConflict(
                        f"payment {pid} or its idempotency key was committed concurrently"
                    )
            elif row is None or row.payment.version != base:
                await self.rollback()
                raise ConcurrencyConflict(f"payment {pid} changed concurrently; reload and retry")
        try:
            postings = _postings(store, staged)
        except InsufficientBalance:
            await self.rollback()
            raise
        for pid, snapshot in staged.payments.items():
            store.put(snapshot, staged.events.get(pid, []))
        for snapshot, entries in postings:
            store.books.write(entries, snapshot.updated_at)
        for out in staged.outbox:
            store.outbox[out.id] = out
        for entry in staged.written.values():
            del entry.payment.new_events[: entry.events_written]
        self._reset()
        self.committed = True

    async def rollback(self) -> None:
        """Discard staged writes and restore the versions the payments had."""
        for entry in self._staged.written.values():
            entry.payment.version = entry.original_version
        self._reset()

    def _reset(self) -> None:
        self._staged.payments.clear()
        self._staged.base_versions.clear()
        self._staged.events.clear()
        self._staged.outbox.clear()
        self._staged.written.clear()


def _postings(store: InMemoryStore, staged: _Staged) -> list[tuple[Payment, list[JournalEntry]]]:
    """The entries the staged payments newly imply, checked against the guarded balances
    (raises InsufficientBalance): the ledger's postings commit with the payments."""
    groups = [(s, store.books.fresh(entries_for(s))) for s in staged.payments.values()]
    store.books.check([e for _, entries in groups for e in entries])
    return groups


class InMemoryUnitOfWorkFactory:
    """UnitOfWorkFactory: a fresh InMemoryUnitOfWork per call over one shared store."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()

    def __call__(self) -> InMemoryUnitOfWork:
        """A new unit of work."""
        return InMemoryUnitOfWork(self.store)


class InMemoryOutbox:
    """Outbox port over an InMemoryStore."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        """Oldest unpublished rows first."""
        pending = [r for r in self._store.outbox.values() if r.id not in self._store.published]
        pending.sort(key=lambda r: (r.created_at, r.payment_id, r.seq))
        return pending[:limit]

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None:
        """Mark rows published (idempotent)."""
        for row_id in ids:
            if row_id in self._store.outbox:
                self._store.published.setdefault(row_id, at)


def _reached_provider(payment: Payment) -> bool:
    return any(
        a.submit_count > 0 or a.status is not AttemptStatus.CREATED for a in payment.attempts
    )


def _counted(payment: Payment) -> bool:
    """Payments the fraud history counts: not payouts (money out is not the payer's
    spending), nor ones rejected before they reached a provider."""
    if payment.kind is PaymentKind.PAYOUT:
        return False
    return not (payment.state is PaymentState.FAILED and not _reached_provider(payment))


class InMemoryRiskContext:
    """RiskContext computed from the committed payments (definitions as SqlRiskContext)."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def block(self, msisdn_or_payee_key: str, reason: str) -> None:
        """Add an MSISDN (or payee key) to the blocklist."""
        self._store.blocklist.setdefault(msisdn_or_payee_key, reason)

    async def signals(
        self, *, payer: Msisdn, payee_key: str, amount: Money, at: datetime, exclude_payment_id: str
    ) -> RiskSignals:
        """The payer/payee history and list checks as of `at`."""
        store = self._store
        touching_payer = store.payments_of(store.by_msisdn.get(payer.e164), exclude_payment_id)
        history = [
            p
            for p in touching_payer
            if p.payer == payer
            and at - MONTH < p.created_at <= at
            and p.amount.currency == amount.currency
            and _counted(p)
        ]
        day = [p for p in history if p.created_at > at - DAY]
        amounts = [p.amount.minor for p in history]
        prompts = [
            a.created_at
            for p in touching_payer
            for a in p.attempts
            if a.kind is AttemptKind.COLLECT and a.msisdn == payer and a.created_at <= at
        ]
        new_payers: set[Msisdn] = set()
        if is_wallet_payee_key(payee_key):  # fan-in is a wallet (mule) signal only
            into_payee = store.payments_of(store.by_payee.get(payee_key), exclude_payment_id)
            earlier_payers = {p.payer for p in into_payee if p.created_at <= at - HOUR}
            new_payers = {
                p.payer
                for p in into_payee
                if at - HOUR < p.created_at <= at and _counted(p) and p.payer not in earlier_payers
            }
        return RiskSignals(
            payer_count_1h=sum(1 for p in history if p.created_at > at - HOUR),
            payer_count_24h=len(day),
            payer_sum_24h=Money(sum(p.amount.minor for p in day), amount.currency),
            payer_sum_30d=Money(sum(amounts), amount.currency),
            payer_median_amount_30d=(
                Money(statistics.median_low(amounts), amount.currency) if amounts else None
            ),
            payee_known_to_payer=any(
                p.payer == payer
                and p.payee.key == payee_key
                and p.state in _KNOWN_STATES
                and p.created_at <= at
                for p in touching_payer
            ),
            payer_blocklisted=payer.e164 in self._store.blocklist,
            payee_blocklisted=payee_key in self._store.blocklist,
            prompts_to_payer_10m=sum(1 for t in prompts if t > at - TEN_MINUTES),
            prompts_to_payer_1h=sum(1 for t in prompts if t > at - HOUR),
            distinct_new_payers_to_payee_1h=len(new_payers),
        )
