"""The outbox relay's side of the database, and merchant webhook deliveries.

On PostgreSQL `claim` goes straight to asyncpg (SQLAlchemy's statement and row machinery
cost more client CPU than the relay's own work): after an empty claim, an autocommit probe
first, so an idle poll is one light round trip and no transaction (after a claim that found
rows, no probe: more are likely); with rows waiting, BEGIN, the same
`SELECT ... FOR UPDATE SKIP LOCKED` as before, one `UPDATE ... WHERE id = ANY($2)` to mark
them, COMMIT. The payloads come as PostgreSQL's JSON text (`JsonPayload`): the event stream
carries that text as is, and it is decoded only if something reads the mapping. Other
databases take the SQLAlchemy path.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

from attrs import frozen
from sqlalchemy import RowMapping, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.sql._healing import discard_on_loss
from synccash.adapters.sql._tables import outbox, payments, webhook_deliveries
from synccash.core.ports import OutboxRow


def _outbox_select(limit: int) -> Select[Any]:
    return (
        select(outbox)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.created_at, outbox.c.payment_id, outbox.c.event_seq)
        .limit(limit)
    )


_ANY_UNPUBLISHED_SQL: Final = "SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1"
_CLAIM_SQL: Final = (
    "SELECT id, payment_id, event_seq, type, payload::text, created_at FROM outbox"
    " WHERE published_at IS NULL ORDER BY created_at, payment_id, event_seq"
    " LIMIT $1 FOR UPDATE SKIP LOCKED"
)
_MARK_SQL: Final = "UPDATE outbox SET published_at = $1 WHERE id = ANY($2::varchar[])"


class JsonPayload(Mapping[str, Any]):
    """An outbox payload as its stored JSON text, decoded on first use.

    `json_text` is what publishers send (the same text for the same row every time, so a
    re-published event is byte-identical); reading the mapping decodes it once.
    """

    __slots__ = ("_decoded", "json_text")

    def __init__(self, json_text: str) -> None:
        self.json_text = json_text
        self._decoded: dict[str, Any] | None = None

    def _document(self) -> dict[str, Any]:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = json.loads(self.json_text)
        return decoded

    def __getitem__(self, key: str) -> Any:
        return self._document()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._document())

    def __len__(self) -> int:
        return len(self._document())

    def __repr__(self) -> str:
        return f"JsonPayload({self.json_text!r})"


def _claimed_row(record: Any) -> OutboxRow:
    """An OutboxRow from the PostgreSQL claim's record (payload as JSON text)."""
    id_, payment_id, seq, type_, payload, created_at = record
    return OutboxRow(id_, payment_id, seq, type_, JsonPayload(payload), created_at)


def _outbox_row(mapping: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=mapping["id"],
        payment_id=mapping["payment_id"],
        seq=mapping["event_seq"],
        type=mapping["type"],
        payload=dict(mapping["payload"]),
        created_at=mapping["created_at"],
    )


class OutboxClaim:
    """Unpublished rows locked by one relay (SKIP LOCKED on PostgreSQL) until the claim ends."""

    def __init__(self, conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
        self._conn = conn
        self.rows = rows

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None:
        """Mark rows published; committed when the claim ends without an error."""
        if ids:
            await self._conn.execute(
                update(outbox).where(outbox.c.id.in_(list(ids))).values(published_at=at)
            )


class _PgClaim:
    """A claim on a raw asyncpg connection inside its transaction (PostgreSQL fast path)."""

    def __init__(self, driver: Any, rows: Sequence[OutboxRow]) -> None:
        self._driver = driver
        self.rows = rows

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None:
        """Mark rows published; committed when the claim ends without an error."""
        if ids:
            await self._driver.execute(_MARK_SQL, at.astimezone(UTC), list(ids))


class SqlOutbox:
    """Outbox port over SQL: read unpublished events, mark them published."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._probe_first = True  # the last claim found nothing: probe before locking

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        """Oldest unpublished rows first (no lock: for a single relay)."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_outbox_select(limit))
            return [_outbox_row(r) for r in result.mappings()]

    async def mark_published(self, ids: Sequence[str], at: datetime) -> None:
        """Mark rows published (idempotent)."""
        if not ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(outbox).where(outbox.c.id.in_(list(ids))).values(published_at=at)
            )

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[OutboxClaim | _PgClaim]:
        """Lock up to `limit` unpublished rows for this relay; other relays skip them."""
        if self._engine.dialect.name == "postgresql":
            async with self._engine.connect() as conn, discard_on_loss(conn):
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:
                    raise RuntimeError("the pooled connection is closed")
                if self._probe_first and await driver.fetchval(_ANY_UNPUBLISHED_SQL) is None:
                    yield _PgClaim(driver, [])  # idle: no transaction, nothing locked
                    return
                async with driver.transaction():
                    records = await driver.fetch(_CLAIM_SQL, limit)
                    self._probe_first = not records
                    yield _PgClaim(driver, [_claimed_row(r) for r in records])
            return
        async with self._engine.begin() as conn:
            stmt = _outbox_select(limit).with_for_update(skip_locked=True)
            rows = [_outbox_row(r) for r in (await conn.execute(stmt)).mappings()]
            yield OutboxClaim(conn, rows)

    async def webhook_urls(self, payment_ids: Sequence[str]) -> dict[str, str | None]:
        """Each payment's webhook URL (None: none set), in one light query (no children)."""
        if not payment_ids:
            return {}
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(payments.c.id, payments.c.webhook_url).where(
                    payments.c.id.in_(list(payment_ids))
                )
            )
            return {row.id: row.webhook_url for row in result}

    async def count_unpublished(self) -> int:
        """How many events wait to be published (a health/metrics number)."""
        async with self._engine.connect() as conn:
            stmt = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            return int((await conn.execute(stmt)).scalar_one())


class DeliveryStatus(enum.StrEnum):
    """Where a webhook delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


@frozen
class WebhookDelivery:
    """One event to deliver to one merchant URL, with its attempt history."""

    id: str
    outbox_id: str
    payment_id: str
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    endpoint_id: str | None = None
    seq: int | None = None
    body: bytes | None = None


def delivery_id_for(outbox_id: str, url: str, endpoint_id: str | None = None) -> str:
    """The deterministic id of one event's delivery to a URL (or to an endpoint)."""
    target = url if endpoint_id is None else f"endpoint {endpoint_id}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{outbox_id} {target}"))


def _delivery_from_row(m: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=m["id"],
        outbox_id=m["outbox_id"],
        payment_id=m["payment_id"],
        url=m["url"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        endpoint_id=m["endpoint_id"],
        seq=m["seq"],
        body=None if m["body"] is None else m["body"].encode(),
    )


class SqlWebhookDeliveries:
    """Merchant webhook deliveries: created per event and URL, retried until delivered or given up."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        async with self._engine.begin() as conn:
            dialect_insert = (
                postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            )
            await conn.execute(
                dialect_insert(webhook_deliveries)
                .values(
                    id=delivery_id,
                    outbox_id=outbox_id,
                    payment_id=payment_id,
                    url=url,
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                    endpoint_id=endpoint_id,
                    seq=seq,
                    body=None if body is None else body.decode(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
        return delivery_id

    async def of_endpoint(self, endpoint_id: str, limit: int = 50) -> Sequence[WebhookDelivery]:
        """An endpoint's deliveries, newest first (the deliveries log)."""
        stmt = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.seq.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_delivery_from_row(r) for r in (await conn.execute(stmt)).mappings()]

    async def redeliver(self, delivery_id: str, now: datetime) -> bool:
        """Send a delivery again now (manual redelivery, whatever its status); False if none."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, updated_at=now)
            )
        return bool(result.rowcount)

    async def due(self, now: datetime, limit: int) -> Sequence[WebhookDelivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        stmt = (
            select(webhook_deliveries)
            .where(
                webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_delivery_from_row(r) for r in (await conn.execute(stmt)).mappings()]

    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        """One delivery, or None."""
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _delivery_from_row(row)

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
        """Record one try; `next_attempt_at=None` without success means give up (FAILED)."""
        if delivered:
            status = DeliveryStatus.DELIVERED
        elif next_attempt_at is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        async with self._engine.begin() as conn:
            await conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    status=status.value,
                    attempts=webhook_deliveries.c.attempts + 1,
                    next_attempt_at=None
                    if status is not DeliveryStatus.PENDING
                    else next_attempt_at,
                    last_status_code=status_code,
                    last_error=None if error is None else error[:2000],
                    updated_at=at,
                )
            )
