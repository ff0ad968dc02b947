"""Webhook delivery: create deliveries for merchant events, send the due ones, record each try."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import anyio
import httpx
import structlog
from attrs import define, frozen

from synccash.adapters._webhook_signing import (
    DELIVERY_TIMEOUT_S,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    event_body,
    is_merchant_event,
    next_attempt_at,
    sign_rotating,
    standard_signature,
)
from synccash.adapters._webhook_store import EventLookup, PendingDelivery, WebhookDeliveryStore
from synccash.adapters.clock import SystemClock
from synccash.adapters.sql import delivery_id_for
from synccash.adapters.urlguard import UnsafeUrl, UrlGuard
from synccash.adapters.webhook_endpoints import WebhookEndpoint, WebhookEndpointStore
from synccash.core.ports import Clock, OutboxRow

_log = structlog.get_logger(__name__)


@define
class _Outcome:
    status_code: int | None = None
    error: str | None = None
    give_up: bool = False


@frozen
class _Send:
    """What one attempt sends: the frozen body, the event id and the secrets to sign with."""

    body: bytes
    event_id: str
    secrets: tuple[str, ...]


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


def signed_headers(send: _Send, timestamp: int) -> dict[str, str]:
    """Our signature header and the Standard Webhooks headers over the same body."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_rotating(send.secrets, timestamp, send.body),
        EVENT_ID_HEADER: send.event_id,
        STANDARD_ID_HEADER: send.event_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: standard_signature(
            send.secrets, send.event_id, timestamp, send.body
        ),
        "User-Agent": "SyncCash-Webhooks/1",
    }


class WebhookDispatcher:
    """Creates deliveries for merchant events and sends the due ones (a few at a time).

    A payment's own `webhook_url` gets every merchant event, signed with `secret`
    (`WEBHOOK_SECRET`); each of the merchant's webhook endpoints gets the events it subscribed
    to, signed with its own secrets and numbered by its sequence. The body of a delivery is
    fixed when it is created, so every retry sends the same bytes.
    """

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
        endpoints: WebhookEndpointStore | None = None,
        endpoint_cache: timedelta = timedelta(seconds=10),
    ) -> None:
        """Deliver through `client`; `guard` checks every URL before it is called.

        `resolve_first` also checks the DNS answers up front (behind an egress proxy, where
        the connect is the proxy's; the guarded client checks them itself). A merchant's
        endpoints are looked up at most once per `endpoint_cache`.
        """
        self._guard = guard or UrlGuard()
        self._resolve_first = resolve_first
        self._client = client
        self._store = store
        self._events = events
        self._secret = secret
        self._clock: Clock = clock or SystemClock()
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._timeout_s = timeout_s
        self._endpoints = endpoints
        self._endpoint_cache = endpoint_cache
        self._cached: dict[str, tuple[Sequence[WebhookEndpoint], datetime]] = {}

    async def schedule(self, row: OutboxRow, url: str | None) -> bool:
        """Create the deliveries of `row` (to `url`, to subscribed endpoints); True if any."""
        if not is_merchant_event(row.type):
            return False
        now = self._clock.now()
        created = False
        if url:
            await self._store.create(
                outbox_id=row.id, payment_id=row.payment_id, url=url, now=now, body=event_body(row)
            )
            created = True
        for endpoint in await self._subscribed(row, now):
            if await self._store.get(delivery_id_for(row.id, endpoint.url, endpoint.id)):
                continue  # the relay re-published this row: keep the first delivery and number
            seq = await self._endpoint_store().next_seq(endpoint.id)
            await self._store.create(
                outbox_id=row.id,
                payment_id=row.payment_id,
                url=endpoint.url,
                now=now,
                endpoint_id=endpoint.id,
                seq=seq,
                body=event_body(row, seq),
            )
            created = True
        return created

    def _endpoint_store(self) -> WebhookEndpointStore:
        if self._endpoints is None:  # pragma: no cover - _subscribed returns () then
            msg = "no webhook endpoint store"
            raise RuntimeError(msg)
        return self._endpoints

    async def _subscribed(self, row: OutboxRow, now: datetime) -> list[WebhookEndpoint]:
        merchant = row.payload.get("merchant_id")
        if self._endpoints is None or not isinstance(merchant, str):
            return []
        hit = self._cached.get(merchant)
        if hit is None or now - hit[1] >= self._endpoint_cache:
            if len(self._cached) > 10_000:
                self._cached.clear()
            hit = (await self._endpoints.of_merchant(merchant), now)
            self._cached[merchant] = hit
        return [e for e in hit[0] if e.wants(row.type)]

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

    async def _what_to_send(self, delivery: PendingDelivery) -> _Send | str:
        """The body and secrets of this delivery, or why it cannot be sent any more."""
        secrets: tuple[str, ...] = (self._secret,)
        if delivery.endpoint_id is not None:
            endpoint = (
                None
                if self._endpoints is None
                else await self._endpoints.by_id(delivery.endpoint_id)
            )
            if endpoint is None:
                return "endpoint deleted"
            secrets = endpoint.signing_secrets(self._clock.now())
        body = delivery.body
        if body is None:
            row = await self._events.event(delivery.payment_id, delivery.outbox_id)
            if row is None:
                return "event not found"
            body = event_body(row)
        return _Send(body, delivery.outbox_id, secrets)

    async def _deliver_one(self, delivery: PendingDelivery) -> bool:
        send = await self._what_to_send(delivery)
        if isinstance(send, str):
            await self._record(delivery, _Outcome(error=send, give_up=True))
            return False
        outcome = await _check_target(self._guard, delivery.url, resolve=self._resolve_first)
        if outcome is None:
            headers = signed_headers(send, int(self._clock.now().timestamp()))
            outcome = await _post(self._client, delivery.url, send.body, headers, self._timeout_s)
        return await self._record(delivery, outcome)

    async def _record(self, delivery: PendingDelivery, outcome: _Outcome) -> bool:
        ok = outcome.error is None
        done_at = self._clock.now()
        retry_at = (
            None if ok or outcome.give_up else next_attempt_at(delivery.attempts + 1, done_at)
        )
        await self._store.record_attempt(
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
            event_id=delivery.outbox_id,
            payment_id=delivery.payment_id,
            endpoint_id=delivery.endpoint_id,
            attempt=delivery.attempts + 1,
            status_code=outcome.status_code,
            delivered=ok,
            error=outcome.error,
            retry_at=None if retry_at is None else retry_at.isoformat(),
        )
        return ok
