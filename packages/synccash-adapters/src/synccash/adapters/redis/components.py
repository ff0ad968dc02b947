"""Each process's failing components, shared through Redis for the detailed health check.

A worker's outbox relay or scheduler that keeps failing is a flag in that worker's
`FailureLog`; the API's `/health/detailed` runs in another process. Every worker writes
its components' statuses under a key of its own (`synccash:components:<process>`) every
few seconds, with a short expiry, so a process that stopped drops out by itself, and its
name in a sorted set scored by that expiry; the API reads the live names and their keys
(two commands, whatever else the database holds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Final

from redis.asyncio import Redis

from synccash.adapters.failures import ComponentStatus

PREFIX: Final = "synccash:components:"
#: The processes that reported, scored by when their report expires (epoch ms).
INDEX: Final = "synccash:components"
#: A report older than this is gone (a worker writes every REPORT_EVERY_S).
EXPIRE_MS: Final = 10_000
REPORT_EVERY_S: Final = 2.0


async def publish_components(
    redis: Redis, process: str, statuses: Sequence[ComponentStatus]
) -> None:
    """Write this process's component statuses (they expire unless written again)."""
    document = [
        {
            "component": s.component,
            "failing": s.failing,
            "failures": s.failures,
            "failing_for_s": s.failing_for_s,
            "last_error": s.last_error,
        }
        for s in statuses
    ]
    expires_ms = int(time.time() * 1000) + EXPIRE_MS
    pipe = redis.pipeline(transaction=False)
    pipe.set(PREFIX + process, json.dumps(document), px=EXPIRE_MS)
    pipe.zadd(INDEX, {process: expires_ms})
    await pipe.execute()


async def read_components(redis: Redis) -> dict[str, list[ComponentStatus]]:
    """Every live process's component statuses, by process name."""
    await redis.zremrangebyscore(INDEX, "-inf", int(time.time() * 1000))
    names = [
        n.decode() if isinstance(n, bytes) else str(n) for n in await redis.zrange(INDEX, 0, -1)
    ]
    if not names:
        return {}
    values = await redis.mget([PREFIX + name for name in names])
    result: dict[str, list[ComponentStatus]] = {}
    for name, value in zip(names, values, strict=True):
        if value is None:
            continue  # expired between the two reads
        result[name] = [
            ComponentStatus(
                component=str(item["component"]),
                failing=bool(item["failing"]),
                failures=int(item["failures"]),
                failing_for_s=float(item["failing_for_s"]),
                last_error=item.get("last_error"),
            )
            for item in json.loads(value)
        ]
    return result


__all__ = [
    "EXPIRE_MS",
    "INDEX",
    "PREFIX",
    "REPORT_EVERY_S",
    "publish_components",
    "read_components",
]
