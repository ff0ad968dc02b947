"""Ports: the only ways the core talks to the world. Each has an in-memory
implementation in `synccash.adapters.memory`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from attrs import frozen

from synccash.core.fraud import RiskSignals
from synccash.core.ledger import JournalEntry
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind, Payment, PaymentEvent, PaymentKind, PaymentState
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, ProviderHealth


class Clock(Protocol):
    """The only source of time in the core."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    """Ids for payments (time-ordered) and attempt references (random UUIDs)."""

    def payment_id(self) -> str:
        """A new time-ordered payment id."""
        ...

    def reference(self) -> str:
        """A new attempt reference (UUID v4, the provider's idempotency key)."""
        ...


@frozen
class PaymentQuery:
    """Filters and cursor for listing a merchant's payments (newest first)."""

    state: PaymentState | None = None
    provider: ProviderId | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    reference: str | None = None
    limit: int = 50
    cursor: str | None = None  # opaque: the id of the last payment on the previous page
    kind: PaymentKind | None = None  # e.g. only payouts


@frozen
class PaymentPage:
    """One page of payments and the cursor for the next one."""

    items: Sequence[Payment]
    next_cursor: str | None


class PaymentRepository(Protocol):
    """Payments with their attempts and audit trail."""

    async def add(self, payment: Payment) -> None:
        """Insert a new payment (with its attempts and new events).

        A duplicate (merchant_id, idempotency_key) raises ConcurrencyConflict, so
        two concurrent initiates with one key create exactly one payment.
        """
        ...

    async def get(self, payment_id: str, merchant_id: str | None = None) -> Payment | None:
        """Load one payment (scoped to a merchant when given), or None."""
        ...

    async def load(self, payment_id: str) -> Payment | None:
        """The payment to act on (the worker's read): like `get`, but `events` may hold
        only what is recorded after loading, without the stored audit trail; `history_seq`
        then tells where the numbering of new events continues. Use `events()` for the trail.
        """
        ...

    async def get_by_idempotency_key(self, merchant_id: str, key: str) -> Payment | None:
        """The payment created with this merchant's idempotency key, or None."""
        ...

    async def get_by_attempt_reference(self, reference: str) -> Payment | None:
        """The payment owning the attempt with this reference, or None."""
        ...

    async def attempt_owner(self, reference: str) -> AttemptOwner | None:
        """Which payment and provider an attempt reference belongs to, or None.

        What a provider callback needs (without loading the payment and its audit trail).
        """
        ...

    async def save(self, payment: Payment) -> None:
        """Persist changes; raises ConcurrencyConflict if the stored version moved on.

        The conflict is raised here or, at the latest, by the unit of work's commit (an
        adapter may hold a lone write back and send it as the commit). On success
        `payment.version` is incremented and `new_events` are written (with outbox rows)
        and cleared at commit; on a conflict nothing of it is written.
        """
        ...

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """A merchant's payments, newest first."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[str]:
        """Ids of non-terminal payments whose next_action_at <= now (worker sweep)."""
        ...

    async def events(self, payment_id: str) -> Sequence[PaymentEvent]:
        """The full audit trail of a payment, in order."""
        ...

    async def daily_totals(self, merchant_id: str, day: date) -> Sequence[DailyRow]:
        """Counts and sums for the merchant's payments created on `day` (UTC), by state and provider."""
        ...


@frozen
class AttemptOwner:
    """The payment an attempt reference belongs to, and the provider it was sent to."""

    payment_id: str
    provider: ProviderId


@frozen
class DailyRow:
    """One aggregate row of the daily report."""

    state: PaymentState
    provider: ProviderId | None
    count: int
    amount_minor: int
    fee_minor: int


class UnitOfWork(Protocol):
    """One atomic transaction over the repository (state, attempts, events, outbox)."""

    @property
    def payments(self) -> PaymentRepository:
        """The payments repository bound to this transaction."""
        ...

    async def __aenter__(self) -> Self:
        """Begin."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed."""
        ...

    async def commit(self) -> None:
        """Commit everything written in this unit of work."""
        ...

    async def rollback(self) -> None:
        """Discard everything written in this unit of work."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use-case call."""

    def __call__(self) -> UnitOfWork:
        """A new unit of work."""
        ...


@frozen
class AttemptRequest:
    """What a provider client needs to send one attempt."""

    provider: ProviderId
    kind: AttemptKind
    reference: str  # our reference = the provider idempotency key (MTN X-Reference-Id)
    amount: Money
    msisdn: Msisdn  # payer for collect, payee for disburse/refund
    payment_id: str  # sent as the provider's externalId / client reference
    note: str = ""
    callback_url: str | None = None
    original_reference: str | None = None  # refund: the collection being reversed
    original_provider_transaction_id: str | None = None


@frozen
class AccountInfo:
    """Account-holder lookup: is this MSISDN an active wallet at the provider, and whose."""

    provider: ProviderId
    msisdn: Msisdn
    active: bool
    name: str | None = None


class ProviderGateway(Protocol):
    """The providers' APIs, one call per business operation."""

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Send (or re-send, with the same reference) an attempt."""
        ...

    async def status(
        self, provider: ProviderId, kind: AttemptKind, reference: str
    ) -> ProviderOutcome:
        """Ask the provider for the state of an attempt."""
        ...

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """Account-holder lookup (the truth about number portability)."""
        ...


class ProviderHealthStore(Protocol):
    """Outcomes per provider; routing reads the snapshot."""

    async def record(self, sample: HealthSample) -> None:
        """Record one outcome that says something about the provider."""
        ...

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """Health of every provider with data."""
        ...


class RiskContext(Protocol):
    """What the fraud rules need from history and lists."""

    async def signals(
        self, *, payer: Msisdn, payee_key: str, amount: Money, at: datetime, exclude_payment_id: str
    ) -> RiskSignals:
        """The payer/payee history and list checks as of `at`.

        `distinct_new_payers_to_payee_1h` (fan-in) is counted for wallet payees only
        (`is_wallet_payee_key`); for a merchant collection account it is 0.
        """
        ...


class TaskKind(enum.StrEnum):
    """Work the worker does for a payment."""

    ADVANCE = "advance"  # take the next lifecycle step
    CHECK_STATUS = "check_status"  # a callback arrived: ask the provider now


@frozen
class Task:
    """One unit of queued work. Handlers are idempotent: delivered at least once."""

    kind: TaskKind
    payment_id: str
    hint: str | None = None  # e.g. the attempt reference a callback named


class TaskQueue(Protocol):
    """At-least-once task delivery, now or at a time."""

    async def enqueue(self, task: Task, at: datetime | None = None) -> None:
        """Deliver `task` now (at=None) or not before `at`."""
        ...

    async def withdraw(self, task: Task, at: datetime) -> None:
        """Drop `task` if it is still waiting to be delivered at `at` (else nothing happens).

        Only an optimisation (a final payment's safety-net look): a task that was not
        withdrawn is still handled idempotently.
        """
        ...


class EventPublisher(Protocol):
    """Publishes domain events to integration consumers (Redis stream, webhooks)."""

    async def publish(
        self, event_id: str, payment_id: str, type_: str, data: Mapping[str, Any]
    ) -> None:
        """Publish one event; event_id is unique and lets consumers de-duplicate."""
        ...


@frozen
class OutboxRow:
    """One event waiting to be published, written in the same transaction as the state change.

    `id` is deterministic per (payment_id, seq), so a re-publish carries the same event id.
    """

    id: str
    payment_id: str
    seq: int
    type: str
    payload: Mapping[str, Any]
    created_at: datetime


class Outbox(Protocol):
    """The transactional outbox, read by the worker's relay."""

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        """Oldest unpublished rows first."""
        ...

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None:
        """Mark rows published (idempotent)."""
        ...


@frozen
class EntryQuery:
    """Filters and cursor for reading journal entries (oldest first)."""

    accounts: tuple[str, ...] = ()  # entries with a posting on any of these; () = every entry
    limit: int = 50
    cursor: str | None = None  # opaque: the position of the last entry on the previous page


@frozen
class StoredEntry:
    """A journal entry as stored: its position in the journal and when it was posted."""

    position: int
    at: datetime
    entry: JournalEntry


@frozen
class EntryPage:
    """One page of journal entries and the cursor for the next one."""

    items: Sequence[StoredEntry]
    next_cursor: str | None


class Ledger(Protocol):
    """The double-entry books (`synccash.core.ledger`), enforced by the store.

    Payments' postings are written by the unit of work with each save (the lifecycle never
    calls `post`); a save whose postings would overdraw a guarded account raises
    `InsufficientBalance` (from `save`, or at the latest from the unit of work's commit)
    and writes nothing.
    """

    async def post(self, entries: Sequence[JournalEntry], at: datetime) -> None:
        """Write entries not posted yet (idempotent per key), atomically.

        Raises InsufficientBalance, writing nothing, if a guarded account would go below 0.
        """
        ...

    async def balance(self, account: str, currency: str = "GHS") -> Money:
        """An account's balance on its normal side (what a payout may use: the merchant's
        `merchant_available(m)`; what a disbursement may use: `provider_float(p)`)."""
        ...

    async def balances(self, prefix: str = "") -> Mapping[tuple[str, str], Money]:
        """Balances of every account (and currency) whose name starts with `prefix`."""
        ...

    async def entries(self, query: EntryQuery) -> EntryPage:
        """Journal entries in posting order, keyset-paginated."""
        ...
