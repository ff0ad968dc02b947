"""The outbox relay: publish committed events, schedule merchant webhooks, mark them published.

At least once: a crash between publishing and marking re-publishes the same rows with the same
event ids, and webhook creation is idempotent per (event, URL). With an outbox that can
`claim` rows (PostgreSQL `FOR UPDATE SKIP LOCKED`), every worker runs a relay; otherwise only
one should (the scheduler's leader).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol, cast, runtime_checkable

import anyio
import structlog

from synccash.adapters.failures import FailureLog
from synccash.adapters.webhooks import WebhookDispatcher, is_merchant_event
from synccash.core.ports import Clock, EventPublisher, Outbox, OutboxRow, UnitOfWorkFactory
from synccash.worker.metrics import WorkerMetrics, default_metrics

_log = structlog.get_logger(__name__)
_URL_CACHE_SIZE = 50_000
#: The longest wait between two tries while the relay keeps failing.
MAX_BACKOFF_S = 2.0
COMPONENT = "outbox_relay"


@runtime_checkable
class RowsPublisher(Protocol):
    """An EventPublisher with a batch fast path (`RedisEventPublisher`)."""

    async def publish_rows(self, rows: Sequence[OutboxRow]) -> None:
        """Publish a batch of outbox rows."""
        ...


class _Claim(Protocol):
    rows: Sequence[OutboxRow]

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None: ...


@runtime_checkable
class ClaimingOutbox(Protocol):
    """An outbox whose rows one relay can lock while others skip them (`SqlOutbox`)."""

    def claim(self, limit: int) -> AbstractClaimContext:
        """Lock up to `limit` unpublished rows until the context ends."""
        ...


@runtime_checkable
class WebhookUrlSource(Protocol):
    """An outbox that can tell many payments' webhook URLs at once (`SqlOutbox`)."""

    async def webhook_urls(self, payment_ids: Sequence[str]) -> dict[str, str | None]:
        """Each payment's webhook URL, None when it has none."""
        ...


class AbstractClaimContext(Protocol):
    """`async with outbox.claim(n) as claim`."""

    async def __aenter__(self) -> _Claim: ...

    async def __aexit__(self, *exc: object) -> bool | None: ...


class OutboxRelay:
    """Moves outbox rows to the event stream and the webhook deliveries."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        publisher: EventPublisher | None = None,
        webhooks: WebhookDispatcher | None = None,
        batch: int = 500,
        metrics: WorkerMetrics | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        self._outbox = outbox
        self._failures = failures or FailureLog()
        self._uow = uow
        self._clock = clock
        self._publisher = publisher
        self._webhooks = webhooks
        self._batch = batch
        self._metrics = metrics or default_metrics()
        # A payment's webhook URL never changes: remember it instead of loading the payment
        # for every event (bounded; cleared when full).
        self._urls: dict[str, str | None] = {}
        # What the outbox and publisher can do, checked once (a runtime Protocol check costs
        # more than an idle poll's own Python work).
        self._claiming = isinstance(outbox, ClaimingOutbox)
        self._url_source = isinstance(outbox, WebhookUrlSource)
        self._rows_publisher = isinstance(publisher, RowsPublisher)

    async def run_once(self) -> int:
        """Relay one batch; the number of rows published."""
        async with self._rows() as (rows, mark):
            if not rows:
                return 0
            await self._publish(rows)
            if self._webhooks is not None:
                await self._schedule_webhooks(self._webhooks, rows)
            await mark([r.id for r in rows], self._clock.now())
        self._metrics.outbox_published.inc(len(rows))
        self._count_attempts(rows)
        return len(rows)

    def _count_attempts(self, rows: Sequence[OutboxRow]) -> None:
        """Attempts, final payments, amounts, failovers and outbox lag, from the audit events
        (the record, not a guess)."""
        now = self._clock.now()
        for row in rows:
            self._metrics.outbox_lag.observe(max((now - row.created_at).total_seconds(), 0.0))
            if not row.type.startswith("attempt."):
                self._metrics.observe_event(row.type, row.payload)
                continue
            data = row.payload.get("data")
            if isinstance(data, dict) and data.get("provider") and data.get("status"):
                self._metrics.attempt_outcomes.labels(data["provider"], data["status"]).inc()

    @asynccontextmanager
    async def _rows(self) -> AsyncIterator[tuple[Sequence[OutboxRow], _Mark]]:
        if self._claiming:
            async with cast("ClaimingOutbox", self._outbox).claim(self._batch) as claim:
                yield claim.rows, claim.mark_published
        else:
            yield await self._outbox.fetch_unpublished(self._batch), self._outbox.mark_published

    async def _publish(self, rows: Sequence[OutboxRow]) -> None:
        publisher = self._publisher
        if publisher is None:
            return
        if self._rows_publisher:
            await cast("RowsPublisher", publisher).publish_rows(rows)
            return
        for row in rows:
            await publisher.publish(row.id, row.payment_id, row.type, row.payload)

    async def _schedule_webhooks(
        self, webhooks: WebhookDispatcher, rows: Sequence[OutboxRow]
    ) -> None:
        wanted = {r.payment_id for r in rows if is_merchant_event(r.type)} - self._urls.keys()
        if wanted:
            if len(self._urls) > _URL_CACHE_SIZE:
                self._urls.clear()
            if self._url_source:
                # one query for the batch instead of loading every payment with its trail
                source = cast("WebhookUrlSource", self._outbox)
                found = await source.webhook_urls(sorted(wanted))
                self._urls.update({pid: found.get(pid) for pid in wanted})
            else:
                async with self._uow() as uow:
                    for payment_id in wanted:
                        payment = await uow.payments.get(payment_id)
                        self._urls[payment_id] = None if payment is None else payment.webhook_url
        for row in rows:
            await webhooks.schedule(row, self._urls.get(row.payment_id))

    async def run(self, stop: anyio.Event, *, idle_s: float = 0.2) -> None:
        """Relay until `stop`; full batches go again at once, otherwise wait `idle_s`.

        While it keeps failing (the database or Redis away), it tries again after `idle_s`
        doubling up to MAX_BACKOFF_S, and logs through the FailureLog (once with the cause,
        then at a bounded rate with a count).
        """
        wait_s = idle_s
        while not stop.is_set():
            try:
                published = await self.run_once()
            except Exception as exc:
                self._metrics.loop_errors.labels("relay").inc()
                self._failures.failed(COMPONENT, exc)
                published = 0
                wait_s = min(MAX_BACKOFF_S, wait_s * 2)
            else:
                self._failures.succeeded(COMPONENT)
                wait_s = idle_s
            if published < self._batch:
                with anyio.move_on_after(wait_s):
                    await stop.wait()


class _Mark(Protocol):
    async def __call__(self, ids: Sequence[str], at: datetime, /) -> None: ...


__all__ = ["OutboxRelay"]
