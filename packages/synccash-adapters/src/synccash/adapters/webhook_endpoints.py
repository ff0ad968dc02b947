"""Per-merchant webhook endpoints: URL, subscribed event types, signing secrets, a sequence.

Each endpoint has its own secret (`whsec_` + base64 of 32 random bytes, the Standard
Webhooks format), shown once when created or rotated. A rotation keeps the previous secret
valid for an overlap (default 24 h): during it every delivery is signed with both. Every
delivery created for an endpoint takes the endpoint's next sequence number (increasing; a
number may be skipped), so a merchant can order the events of one endpoint.

The secrets must be kept in plain form (signing needs them); they are never logged or
returned after creation.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final, Protocol

from attrs import evolve, field, frozen

from synccash.core.errors import DomainError, ValidationError

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format marker, not a secret
MAX_OVERLAP: Final = timedelta(days=7)
DEFAULT_OVERLAP: Final = timedelta(hours=24)
MAX_ENDPOINTS_PER_MERCHANT: Final = 16

#: The event types a merchant can subscribe to (`*`: all of them).
EVENT_TYPES: Final = frozenset(
    {
        "payment.initiated",
        "payment.processing",
        "payment.confirmed",
        "payment.failed",
        "payment.expired",
        "payment.cancelled",
        "payment.refunded",
        "payment.partially_refunded",
        "refund.requested",
        "refund.failed",
        "refund.rejected",
    }
)
ALL_EVENTS: Final = "*"


class WebhookEndpointNotFound(DomainError):
    """No such endpoint for this merchant."""

    code = "webhook_endpoint_not_found"


def new_secret() -> str:
    """A fresh endpoint secret in the Standard Webhooks format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    """The subscription, sorted and de-duplicated; ValidationError for unknown types."""
    wanted = sorted(set(event_types))
    if not wanted:
        raise ValidationError("subscribe to at least one event type", code="invalid_event_types")
    unknown = [t for t in wanted if t != ALL_EVENTS and t not in EVENT_TYPES]
    if unknown:
        known = ", ".join(sorted(EVENT_TYPES))
        raise ValidationError(
            f"unknown event type {unknown[0]!r}; use '*' or any of: {known}",
            code="invalid_event_types",
        )
    return (ALL_EVENTS,) if ALL_EVENTS in wanted else tuple(wanted)


@frozen
class WebhookEndpoint:
    """One merchant endpoint."""

    id: str
    merchant_id: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime
    secret: str = field(repr=False)
    description: str = ""
    previous_secret: str | None = field(default=None, repr=False)
    previous_expires_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to `event_type`."""
        if ALL_EVENTS in self.event_types:
            return event_type in EVENT_TYPES
        return event_type in self.event_types

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets to sign with now: the current one, and the previous during the overlap."""
        if (
            self.previous_secret is not None
            and self.previous_expires_at is not None
            and now < self.previous_expires_at
        ):
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def rotated(self, secret: str, now: datetime, overlap: timedelta) -> WebhookEndpoint:
        """This endpoint with a new secret; the old one stays valid for `overlap`."""
        if overlap < timedelta(0) or overlap > MAX_OVERLAP:
            raise ValidationError("the overlap must be 0 s to 7 days", code="invalid_overlap")
        return evolve(
            self, secret=secret, previous_secret=self.secret, previous_expires_at=now + overlap
        )


def new_endpoint(
    merchant_id: str,
    url: str,
    event_types: Iterable[str],
    now: datetime,
    description: str = "",
) -> WebhookEndpoint:
    """A new endpoint with a fresh id and secret (the URL is checked by the caller's guard)."""
    return WebhookEndpoint(
        id=f"we_{secrets.token_hex(12)}",
        merchant_id=merchant_id,
        url=url,
        event_types=check_event_types(event_types),
        created_at=now,
        secret=new_secret(),
        description=description,
    )


class WebhookEndpointStore(Protocol):
    """Where endpoints live (`SqlWebhookEndpoints`, `InMemoryWebhookEndpoints`)."""

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Store a new endpoint."""
        ...

    async def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """One of the merchant's endpoints."""
        ...

    async def of_merchant(self, merchant_id: str) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints, oldest first."""
        ...

    async def by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        """An endpoint by id alone (the worker, signing a delivery)."""
        ...

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Store changed secrets (rotation)."""
        ...

    async def delete(self, merchant_id: str, endpoint_id: str) -> bool:
        """Remove an endpoint; False if there was none."""
        ...

    async def next_seq(self, endpoint_id: str) -> int:
        """Take the endpoint's next sequence number."""
        ...


class InMemoryWebhookEndpoints:
    """WebhookEndpointStore in memory."""

    def __init__(self) -> None:
        """No endpoints."""
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._seq: dict[str, int] = {}

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Store a new endpoint."""
        self._endpoints[endpoint.id] = endpoint
        self._seq[endpoint.id] = 0

    async def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """One of the merchant's endpoints."""
        endpoint = self._endpoints.get(endpoint_id)
        return endpoint if endpoint is not None and endpoint.merchant_id == merchant_id else None

    async def of_merchant(self, merchant_id: str) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints, oldest first."""
        found = [e for e in self._endpoints.values() if e.merchant_id == merchant_id]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    async def by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        """An endpoint by id alone."""
        return self._endpoints.get(endpoint_id)

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Store changed secrets."""
        if endpoint.id in self._endpoints:
            self._endpoints[endpoint.id] = endpoint

    async def delete(self, merchant_id: str, endpoint_id: str) -> bool:
        """Remove an endpoint."""
        if await self.get(merchant_id, endpoint_id) is None:
            return False
        del self._endpoints[endpoint_id]
        return True

    async def next_seq(self, endpoint_id: str) -> int:
        """Take the endpoint's next sequence number."""
        self._seq[endpoint_id] = self._seq.get(endpoint_id, 0) + 1
        return self._seq[endpoint_id]


__all__ = [
    "ALL_EVENTS",
    "DEFAULT_OVERLAP",
    "EVENT_TYPES",
    "MAX_ENDPOINTS_PER_MERCHANT",
    "InMemoryWebhookEndpoints",
    "WebhookEndpoint",
    "WebhookEndpointNotFound",
    "WebhookEndpointStore",
    "check_event_types",
    "new_endpoint",
    "new_secret",
]
