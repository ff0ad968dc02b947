"""EventPublisher on the Redis stream `synccash:events` (integration consumers read it).

Each entry carries the event id (the outbox id, stable across re-publishes): delivery is at
least once, so consumers de-duplicate on it. The stream is capped with `MAXLEN ~` so it
never grows without bound; the database outbox remains the record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from redis.asyncio import Redis

from synccash.core.ports import OutboxRow

EVENTS_STREAM: Final = "synccash:events"


def _fields(event_id: str, payment_id: str, type_: str, data: Mapping[str, Any]) -> dict[Any, Any]:
    return {
        "event_id": event_id,
        "payment_id": payment_id,
        "type": type_,
        "data": json.dumps(dict(data), separators=(",", ":"), sort_keys=True, default=str),
    }


class RedisEventPublisher:
    """Publishes domain events to a capped Redis stream."""

    def __init__(
        self, redis: Redis, *, stream: str = EVENTS_STREAM, maxlen: int = 1_000_000
    ) -> None:
        self._redis = redis
        self.stream = stream
        self._maxlen = maxlen

    async def publish(
        self, event_id: str, payment_id: str, type_: str, data: Mapping[str, Any]
    ) -> None:
        """XADD one event."""
        await self._redis.xadd(
            self.stream,
            _fields(event_id, payment_id, type_, data),
            maxlen=self._maxlen,
            approximate=True,
        )

    async def publish_rows(self, rows: Sequence[OutboxRow]) -> None:
        """XADD a batch of outbox rows in one pipelined round trip (the relay's fast path)."""
        if not rows:
            return
        pipe = self._redis.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(
                self.stream,
                _fields(row.id, row.payment_id, row.type, row.payload),
                maxlen=self._maxlen,
                approximate=True,
            )
        await pipe.execute()


__all__ = ["EVENTS_STREAM", "RedisEventPublisher"]
