"""Signed merchant webhooks: signing, verification (for merchants) and delivery with retries.

For merchants
-------------
Every webhook is an HTTP POST with a JSON body::

    {"id": "<event id>", "type": "payment.confirmed", "created": 1767261600,
     "data": {"payment_id": ..., "merchant_id": ..., "state": ..., "seq": ..., ...}}

and the header::

    SyncCash-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

During a secret rotation the header carries one `v1` per active secret. To check it, call
`verify(secret, header, raw_body, now=time.time())` (or re-implement it: compute the HMAC
over the *raw* bytes you received, compare in constant time, and reject timestamps more than
300 s from your clock). `id` is stable across retries: de-duplicate on it. Delivery order is
not guaranteed; `data.seq` orders the events of one payment. Answer 2xx quickly; anything
else (or no answer within 5 s) is retried at 1 min, 5 min x2, 10 min x5, 1 h x5, 6 h x3
(16 retries, about 24 h), then the delivery is marked failed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import anyio
import httpx
import structlog
from attrs import define

from synccash.adapters.clock import SystemClock
from synccash.adapters.event_payload import event_payload, outbox_id
from synccash.adapters.urlguard import UnsafeUrl, UrlGuard
from synccash.core.payment import Payment, PaymentEvent
from synccash.core.ports import Clock, OutboxRow, UnitOfWorkFactory

_log = structlog.get_logger(__name__)

SIGNATURE_HEADER: Final = "SyncCash-Signature"
EVENT_ID_HEADER: Final = "SyncCash-Event-Id"
DEFAULT_TOLERANCE_S: Final = 300
DELIVERY_TIMEOUT_S: Final = 5.0

#: Wait before retry n+1 after n failed attempts (Hyperswitch's ladder: 16 retries, ~24 h).
RETRY_DELAYS: Final[tuple[timedelta, ...]] = (
    (timedelta(minutes=1),)
    + (timedelta(minutes=5),) * 2
    + (timedelta(minutes=10),) * 5
    + (timedelta(hours=1),) * 5
    + (timedelta(hours=6),) * 3
)

#: Event types merchants receive (attempt-level internals stay in the audit trail).
MERCHANT_EVENT_PREFIXES: Final = ("payment.", "refund.")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `SyncCash-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def sign_rotating(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header with one `v1` per secret (current and previous during a rotation)."""
    signatures = ",".join(f"v1={_digest(s, timestamp, body)}" for s in secrets)
    return f"t={timestamp},{signatures}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: float | datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True if `header` signs the raw `body` with `secret` within `tolerance_s` of `now`.

    `now` is unix seconds (e.g. `time.time()`) or an aware datetime. Comparison is
    constant-time; any `v1` value may match (secret rotation).
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    # Check every candidate (no early exit) so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    return matched


def is_merchant_event(event_type: str) -> bool:
    """Whether merchants receive this event type as a webhook."""
    return event_type.startswith(MERCHANT_EVENT_PREFIXES)


def event_body(row: OutboxRow) -> bytes:
    """The webhook (and event stream) JSON body of one outbox event: compact, sorted keys."""
    document = {
        "id": row.id,
        "type": row.type,
        "created": int(row.created_at.timestamp()),
        "data": dict(row.payload),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def next_attempt_at(failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after `failed_attempts` failures, or None to give up."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[failed_attempts - 1]


class PendingDelivery(Protocol):
    """A delivery row (`synccash.adapters.sql.WebhookDelivery` satisfies it)."""

    @property
    def id(self) -> str:
        """Delivery id."""
        ...

    @property
    def outbox_id(self) -> str:
        """The event being delivered."""
        ...

    @property
    def payment_id(self) -> str:
        """The payment the event belongs to."""
        ...

    @property
    def url(self) -> str:
        """The merchant's webhook URL."""
        ...

    @property
    def attempts(self) -> int:
        """Attempts made so far."""
        ...


class WebhookDeliveryStore(Protocol):
    """Where deliveries and their attempts are recorded (`SqlWebhookDeliveries`)."""

    async def create(self, *, outbox_id: str, payment_id: str, url: str, now: datetime) -> str:
        """Schedule a delivery now (idempotent per event and URL)."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[PendingDelivery]:
        """Pending deliveries whose next attempt is due."""
        ...

    async def record_attempt(
        self,
        delivery_id: str,
        *,
        at: datetime,
        status_code: int | None,
        error: str | None,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> None:
        """Record one try; no next attempt and no success means give up."""
        ...


class EventLookup(Protocol):
    """Finds the outbox event a delivery carries (it is re-sent byte-identical on retries)."""

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """The event, or None if it no longer exists."""
        ...


class AuditTrailEvents:
    """EventLookup that rebuilds the outbox event from the payment's audit trail.

    The event id is the deterministic outbox id of (payment id, seq), so it matches the
    outbox row the relay published; the payload is rebuilt the way the outbox writes it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        event_id: Callable[[str, int], str] = outbox_id,
        payload: Callable[[Payment, PaymentEvent], Mapping[str, Any]] = event_payload,
    ) -> None:
        self._uow = uow
        self._event_id = event_id
        self._payload = payload

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """The event of `payment_id` whose id is `outbox_id`, or None."""
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id)
            if payment is None:
                return None
            events = await uow.payments.events(payment_id)
        for event in events:
            if self._event_id(event.payment_id, event.seq) == outbox_id:
                return OutboxRow(
                    id=outbox_id,
                    payment_id=payment_id,
                    seq=event.seq,
                    type=event.type,
                    payload=self._payload(payment, event),
                    created_at=event.at,
                )
        return None


@define
class MemoryDelivery:
    """One webhook delivery held in memory (embedded mode)."""

    id: str
    outbox_id: str
    payment_id: str
    url: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered: bool = False
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


class InMemoryWebhookDeliveries:
    """WebhookDeliveryStore in memory, with the SQL store's semantics (embedded mode, tests)."""

    def __init__(self) -> None:
        self.deliveries: dict[str, MemoryDelivery] = {}

    async def create(self, *, outbox_id: str, payment_id: str, url: str, now: datetime) -> str:
        """Schedule a delivery now; creating it twice for one event and URL is a no-op."""
        delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{outbox_id} {url}"))
        self.deliveries.setdefault(
            delivery_id,
            MemoryDelivery(delivery_id, outbox_id, payment_id, url, next_attempt_at=now),
        )
        return delivery_id

    async def due(self, now: datetime, limit: int) -> Sequence[MemoryDelivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        due = [
            d
            for d in self.deliveries.values()
            if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        due.sort(key=lambda d: d.next_attempt_at or now)
        return due[:limit]

    async def record_attempt(
        self,
        delivery_id: str,
        *,
        at: datetime,
        status_code: int | None,
        error: str | None,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> None:
        """Record one try; no next attempt and no success means give up."""
        delivery = self.deliveries[delivery_id]
        delivery.attempts += 1
        delivery.delivered = delivered
        delivery.next_attempt_at = None if delivered else next_attempt_at
        delivery.last_status_code = status_code
        delivery.last_error = error
        delivery.updated_at = at


@define
class _Outcome:
    status_code: int | None = None
    error: str | None = None
    give_up: bool = False


async def _check_target(guard: UrlGuard, url: str, *, resolve: bool) -> _Outcome | None:
    """None if `url` may be called now; else the refused outcome (static refusals give up)."""
    try:
        target = guard.check(url)
    except UnsafeUrl as exc:
        return _Outcome(error=f"refused: {exc}", give_up=True)
    if resolve:  # through a proxy the connect is not ours: check the DNS answers up front
        try:
            await guard.resolve(target.host, target.port)
        except UnsafeUrl as exc:
            return _Outcome(error=f"refused: {exc}")
    return None


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout_s: float
) -> _Outcome:
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout_s)
    except UnsafeUrl as exc:  # raised by the guarded connect: a DNS answer was internal
        return _Outcome(error=f"refused: {exc}")
    except httpx.HTTPError as exc:
        return _Outcome(error=f"{type(exc).__name__}: {exc}")
    if response.is_success:
        return _Outcome(response.status_code)
    return _Outcome(response.status_code, f"HTTP {response.status_code}")


async def deliver(
    client: httpx.AsyncClient,
    store: WebhookDeliveryStore,
    delivery: PendingDelivery,
    row: OutboxRow,
    *,
    secret: str,
    clock: Clock,
    timeout_s: float = DELIVERY_TIMEOUT_S,
    guard: UrlGuard | None = None,
    resolve_first: bool = False,
) -> bool:
    """POST one event to the merchant, record the attempt and schedule the retry; True if 2xx.

    The URL is checked by `guard` first (default: public https only); a URL the guard refuses
    is given up at once, without a request.
    """
    body = event_body(row)
    sent_at = clock.now()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, int(sent_at.timestamp()), body),
        EVENT_ID_HEADER: row.id,
        "User-Agent": "SyncCash-Webhooks/1",
    }
    outcome = await _check_target(guard or UrlGuard(), delivery.url, resolve=resolve_first)
    if outcome is None:
        outcome = await _post(client, delivery.url, body, headers, timeout_s)
    ok = outcome.error is None
    done_at = clock.now()
    retry_at = None if ok or outcome.give_up else next_attempt_at(delivery.attempts + 1, done_at)
    await store.record_attempt(
        delivery.id,
        at=done_at,
        status_code=outcome.status_code,
        error=outcome.error,
        delivered=ok,
        next_attempt_at=retry_at,
    )
    _log.info(
        "webhook_attempt",
        delivery_id=delivery.id,
        event_id=row.id,
        payment_id=delivery.payment_id,
        attempt=delivery.attempts + 1,
        status_code=outcome.status_code,
        delivered=ok,
        error=outcome.error,
        retry_at=None if retry_at is None else retry_at.isoformat(),
    )
    return ok


class WebhookDispatcher:
    """Creates deliveries for merchant events and sends the due ones (a few at a time)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        store: WebhookDeliveryStore,
        events: EventLookup,
        *,
        secret: str,
        clock: Clock | None = None,
        concurrency: int = 16,
        timeout_s: float = DELIVERY_TIMEOUT_S,
        guard: UrlGuard | None = None,
        resolve_first: bool = False,
    ) -> None:
        """`guard` checks every URL before it is called (default: public https only);
        `resolve_first` also checks its DNS answers up front (needed behind an egress proxy,
        where the connect is the proxy's; the guarded client checks them itself)."""
        self._guard = guard or UrlGuard()
        self._resolve_first = resolve_first
        self._client = client
        self._store = store
        self._events = events
        self._secret = secret
        self._clock: Clock = clock or SystemClock()
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._timeout_s = timeout_s

    async def schedule(self, row: OutboxRow, url: str | None) -> bool:
        """Create the delivery of `row` to `url` if merchants get this event; True if created."""
        if not url or not is_merchant_event(row.type):
            return False
        await self._store.create(
            outbox_id=row.id, payment_id=row.payment_id, url=url, now=self._clock.now()
        )
        return True

    async def deliver_due(self, limit: int = 100) -> tuple[int, int]:
        """Attempt every due delivery (up to `limit`): (delivered, failed attempts)."""
        due = await self._store.due(self._clock.now(), limit)
        results: list[bool] = []

        async def one(delivery: PendingDelivery) -> None:
            async with self._limiter:
                results.append(await self._deliver_one(delivery))

        async with anyio.create_task_group() as tg:
            for delivery in due:
                tg.start_soon(one, delivery)
        delivered = sum(results)
        return delivered, len(results) - delivered

    async def _deliver_one(self, delivery: PendingDelivery) -> bool:
        row = await self._events.event(delivery.payment_id, delivery.outbox_id)
        if row is None:
            await self._store.record_attempt(
                delivery.id,
                at=self._clock.now(),
                status_code=None,
                error="event not found",
                delivered=False,
                next_attempt_at=None,
            )
            return False
        return await deliver(
            self._client,
            self._store,
            delivery,
            row,
            secret=self._secret,
            clock=self._clock,
            timeout_s=self._timeout_s,
            guard=self._guard,
            resolve_first=self._resolve_first,
        )


__all__ = [
    "DEFAULT_TOLERANCE_S",
    "EVENT_ID_HEADER",
    "RETRY_DELAYS",
    "SIGNATURE_HEADER",
    "AuditTrailEvents",
    "EventLookup",
    "InMemoryWebhookDeliveries",
    "MemoryDelivery",
    "PendingDelivery",
    "WebhookDeliveryStore",
    "WebhookDispatcher",
    "deliver",
    "event_body",
    "is_merchant_event",
    "next_attempt_at",
    "sign",
    "sign_rotating",
    "verify",
]
