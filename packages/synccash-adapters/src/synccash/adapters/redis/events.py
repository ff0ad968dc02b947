"""EventPublisher on the Redis stream `synccash:events` (integration consumers read it).

Each entry carries the event id (the outbox id, stable across re-publishes): delivery is at
least once, so consumers de-duplicate on it. `data` is the payload's JSON: from the
PostgreSQL outbox, the text PostgreSQL stores (jsonb's own key order and spacing, the same
text every time a row is published); otherwise compact JSON with sorted keys. The stream is capped with `MAXLEN ~` so it
never grows without bound; the database outbox remains the record.

`publish_rows` (the relay's path) sends a whole batch as one argument of one script call
that XADDs the entries in order: one command to pack and one reply to parse instead of one
of each per event (redis-py packs and parses in Python, which was most of the relay's CPU).
The entries are byte for byte those `publish` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from redis.asyncio import Redis

from synccash.core.ports import OutboxRow

EVENTS_STREAM: Final = "synccash:events"

#: XADD every [event_id, payment_id, type, data] of the JSON array ARGV[2], in order.
_XADD_ROWS: Final = """
local rows = cjson.decode(ARGV[2])
for _, r in ipairs(rows) do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    'event_id', r[1], 'payment_id', r[2], 'type', r[3], 'data', r[4])
end
return #rows
"""


def _data(data: Mapping[str, Any]) -> str:
    """The entry's `data`: the payload's own JSON text if it carries one (the PostgreSQL
    outbox's `JsonPayload`: no decode and re-encode per event), else compact, sorted JSON."""
    text = getattr(data, "json_text", None)
    if isinstance(text, str):
        return text
    return json.dumps(dict(data), separators=(",", ":"), sort_keys=True, default=str)


def _fields(event_id: str, payment_id: str, type_: str, data: Mapping[str, Any]) -> dict[Any, Any]:
    return {
        "event_id": event_id,
        "payment_id": payment_id,
        "type": type_,
        "data": _data(data),
    }


class RedisEventPublisher:
    """Publishes domain events to a capped Redis stream."""

    def __init__(
        self, redis: Redis, *, stream: str = EVENTS_STREAM, maxlen: int = 1_000_000
    ) -> None:
        self._redis = redis
        self.stream = stream
        self._maxlen = maxlen
        self._xadd_rows = redis.register_script(_XADD_ROWS)

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
        """XADD a batch of outbox rows, in order, in one script call (one round trip)."""
        if not rows:
            return
        batch = json.dumps(
            [[r.id, r.payment_id, r.type, _data(r.payload)] for r in rows], separators=(",", ":")
        )
        await self._xadd_rows(keys=[self.stream], args=[self._maxlen, batch])


__all__ = ["EVENTS_STREAM", "RedisEventPublisher"]
