"""Where webhook deliveries are recorded, and where their events come from."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from attrs import define

from synccash.adapters.event_payload import event_payload, outbox_id
from synccash.adapters.sql import DeliveryStatus, delivery_id_for
from synccash.core.payment import Payment, PaymentEvent
from synccash.core.ports import OutboxRow, UnitOfWorkFactory


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

    @property
    def endpoint_id(self) -> str | None:
        """The webhook endpoint, None for a payment's own `webhook_url`."""
        ...

    @property
    def seq(self) -> int | None:
        """The endpoint's sequence number of this delivery."""
        ...

    @property
    def body(self) -> bytes | None:
        """The exact body to send (None: rebuilt from the event, rows from before 0005)."""
        ...


class WebhookDeliveryStore(Protocol):
    """Where deliveries and their attempts are recorded (`SqlWebhookDeliveries`)."""

    async def create(
        self,
        *,
        outbox_id: str,
        payment_id: str,
        url: str,
        now: datetime,
        endpoint_id: str | None = None,
        seq: int | None = None,
        body: bytes | None = None,
    ) -> str:
        """Schedule a delivery now (idempotent per event and URL, or event and endpoint)."""
        ...

    async def get(self, delivery_id: str) -> Any:
        """One delivery, or None."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[PendingDelivery]:
        """Pending deliveries whose next attempt is due."""
        ...

    async def of_endpoint(self, endpoint_id: str, limit: int = 50) -> Sequence[Any]:
        """An endpoint's deliveries, newest first."""
        ...

    async def redeliver(self, delivery_id: str, now: datetime) -> bool:
        """Send a delivery again now; False if there is none."""
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
    """Finds the outbox event of a delivery stored without its body."""

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """The event, or None if it no longer exists."""
        ...


class AuditTrailEvents:
    """EventLookup that rebuilds the outbox event from the payment's audit trail.

    The event id is the deterministic outbox id of (payment id, seq), so it matches the
    outbox row the relay published; the payload is rebuilt the way the outbox writes it
    (with the payment's state now: deliveries created since migration 0005 keep their body).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        event_id: Callable[[str, int], str] = outbox_id,
        payload: Callable[[Payment, PaymentEvent], Mapping[str, Any]] = event_payload,
    ) -> None:
        """Over the payments' unit of work."""
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
    created_at: datetime | None = None
    endpoint_id: str | None = None
    seq: int | None = None
    body: bytes | None = None

    @property
    def status(self) -> DeliveryStatus:
        """Pending, delivered or failed (given up)."""
        if self.delivered:
            return DeliveryStatus.DELIVERED
        return DeliveryStatus.PENDING if self.next_attempt_at is not None else DeliveryStatus.FAILED


class InMemoryWebhookDeliveries:
    """WebhookDeliveryStore in memory, with the SQL store's semantics (embedded mode, tests)."""

    def __init__(self) -> None:
        """No deliveries."""
        self.deliveries: dict[str, MemoryDelivery] = {}

    async def create(
        self,
        *,
        outbox_id: str,
        payment_id: str,
        url: str,
        now: datetime,
        endpoint_id: str | None = None,
        seq: int | None = None,
        body: bytes | None = None,
    ) -> str:
        """Schedule a delivery now; creating it twice for one event and target is a no-op."""
        delivery_id = delivery_id_for(outbox_id, url, endpoint_id)
        self.deliveries.setdefault(
            delivery_id,
            MemoryDelivery(
                delivery_id,
                outbox_id,
                payment_id,
                url,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
                endpoint_id=endpoint_id,
                seq=seq,
                body=body,
            ),
        )
        return delivery_id

    async def get(self, delivery_id: str) -> MemoryDelivery | None:
        """One delivery, or None."""
        return self.deliveries.get(delivery_id)

    async def due(self, now: datetime, limit: int) -> Sequence[MemoryDelivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        due = [
            d
            for d in self.deliveries.values()
            if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        due.sort(key=lambda d: d.next_attempt_at or now)
        return due[:limit]

    async def of_endpoint(self, endpoint_id: str, limit: int = 50) -> Sequence[MemoryDelivery]:
        """An endpoint's deliveries, newest first."""
        found = [d for d in self.deliveries.values() if d.endpoint_id == endpoint_id]
        found.sort(key=lambda d: (d.created_at, d.seq or 0), reverse=True)
        return found[:limit]

    async def redeliver(self, delivery_id: str, now: datetime) -> bool:
        """Send a delivery again now, whatever its status."""
        delivery = self.deliveries.get(delivery_id)
        if delivery is None:
            return False
        delivery.delivered = False
        delivery.next_attempt_at = now
        delivery.updated_at = now
        return True

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
