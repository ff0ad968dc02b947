"""An integration consumer of the `synccash:events` stream that also survives the FLUSHDB fault.

It tails the stream like any downstream consumer and keeps every entry it saw.
The chaos FLUSHDB goes through `flush()`, which reads what is left of the
stream and wipes the database in one MULTI/EXEC, so no event published before
the wipe escapes the observer (the wipe itself loses them for everyone else:
that is what the outbox is for).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import anyio
from attrs import frozen
from redis.asyncio import Redis

EVENTS_STREAM: Final = "synccash:events"


@frozen
class SeenEvent:
    """One entry read from the events stream."""

    event_id: str
    payment_id: str
    type: str
    data: str


def _decode(fields: Mapping[Any, Any]) -> SeenEvent:
    def text(key: str) -> str:
        value = fields.get(key.encode(), fields.get(key, b""))
        return value.decode() if isinstance(value, bytes) else str(value)

    return SeenEvent(text("event_id"), text("payment_id"), text("type"), text("data"))


class EventCollector:
    """Tails the events stream; `flush()` is the run's one FLUSHDB."""

    def __init__(self, url: str, stream: str = EVENTS_STREAM) -> None:
        """Read `stream` on the Redis at `url`."""
        self._redis = Redis.from_url(url)
        self._stream = stream
        self._last = "0-0"
        self._lock = anyio.Lock()
        self.seen: list[SeenEvent] = []
        self.flushes = 0

    async def _read_once(self, block_ms: int | None) -> int:
        async with self._lock:
            answer: Any = await self._redis.xread(
                {self._stream: self._last}, count=1000, block=block_ms
            )
            count = 0
            for _stream, entries in answer or []:
                for entry_id, fields in entries:
                    self._last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    self.seen.append(_decode(fields))
                    count += 1
            return count

    async def run(self, stop: anyio.Event) -> None:
        """Tail the stream until `stop` (Redis errors are waited out, as a consumer would)."""
        while not stop.is_set():
            try:
                await self._read_once(block_ms=200)
            except Exception:
                await anyio.sleep(0.5)

    async def drain(self) -> None:
        """Read everything left in the stream."""
        while await self._read_once(block_ms=None):
            pass

    async def flush(self) -> None:
        """Read the rest of the stream and FLUSHDB atomically."""
        async with self._lock:
            pipe = self._redis.pipeline(transaction=True)
            pipe.xrange(self._stream, min=f"({self._last}" if self._last != "0-0" else "-")
            pipe.flushdb()
            rest, _ = await pipe.execute()
            for _entry_id, fields in rest:
                self.seen.append(_decode(fields))
            self._last = "0-0"  # the stream starts again from nothing
            self.flushes += 1

    async def around_crash(self, crash: Callable[[], Awaitable[object]]) -> None:
        """Read the rest of the stream, then run `crash` (Redis dies and comes back empty)
        with no read in between; the stream starts again from nothing."""
        async with self._lock:
            rest: Any = await self._redis.xrange(
                self._stream, min=f"({self._last}" if self._last != "0-0" else "-"
            )
            for _entry_id, fields in rest or []:
                self.seen.append(_decode(fields))
            await crash()
            self._last = "0-0"
            self.flushes += 1

    async def aclose(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            await self._redis.aclose()
