"""Micro-benchmark of two worker background costs: the outbox relay and health snapshots.

Client CPU only (`time.process_time` of this process: what the worker would spend), on
real PostgreSQL and Redis:

- relay: `OutboxRelay.run_once` drains N outbox rows (realistic payloads) from a database
  this run creates (`synccash_bench_relay`, dropped at the end) to the Redis stream in
  batches; CPU µs per event published. Also the CPU of one empty poll (nothing to publish).
- snapshot: `RedisHealthStore` as the worker uses it (see `_snapshot_rep`): CPU µs spent
  in the store per routing decision (snapshot, its record, a share of the flushes).

Redis db 12 (flushed). With `--baseline REV` the four modules as they were at git revision
REV (health, events, outbox, relay) run too, interleaved with the current ones, rep by rep;
the median of each is printed.

    uv run python -m synccash.bench.relay [--events 3000] [--batches 50,500] [--reps 5]
        [--baseline HEAD~3]

Last lines: relay_cpu_us_per_event[batch=<b>]=<x> relay_idle_poll_cpu_us=<y>
snapshot_cpu_us=<z>
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy import delete, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.clock import SystemClock
from synccash.adapters.memory.repository import InMemoryUnitOfWorkFactory
from synccash.adapters.redis import events as events_module
from synccash.adapters.redis import health as health_module
from synccash.adapters.redis.events import EVENTS_STREAM
from synccash.adapters.sql import _outbox as outbox_module
from synccash.adapters.sql import make_engine, migrate, outbox_id
from synccash.adapters.sql._tables import outbox
from synccash.core.ports import ProviderHealthStore
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample
from synccash.worker import relay as relay_module
from synccash.worker.metrics import WorkerMetrics

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/synccash_bench_relay"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"

MODULES = {
    "health": ("packages/synccash-adapters/src/synccash/adapters/redis/health.py", health_module),
    "events": ("packages/synccash-adapters/src/synccash/adapters/redis/events.py", events_module),
    "outbox": ("packages/synccash-adapters/src/synccash/adapters/sql/_outbox.py", outbox_module),
    "relay": ("services/worker/src/synccash/worker/relay.py", relay_module),
}


def _at_revision(rev: str) -> dict[str, Any]:
    """The benchmarked modules as they were at git revision `rev` (loaded side by side)."""
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
    ).stdout.strip()
    loaded: dict[str, Any] = {}
    for key, (path, current) in MODULES.items():
        source = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        module = types.ModuleType(f"{current.__name__}_at_{key}_baseline")
        module.__dict__["__package__"] = current.__package__
        sys.modules[module.__name__] = module
        exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102
        loaded[key] = module
    return loaded


TYPES = (
    "payment.initiated",
    "payment.pending",
    "attempt.created",
    "attempt.updated",
    "payment.processing",
    "payment.confirmed",
)


def _data(kind: str, i: int) -> dict[str, Any]:
    if kind.startswith("attempt."):
        return {
            "reference": f"SC{i:012d}",
            "provider": "mtn",
            "status": "pending" if kind == "attempt.created" else "succeeded",
            "kind": "debit",
            "msisdn": "024****567",
            "amount": "12.50",
        }
    return {"from": "INITIATED", "to": "PENDING", "reason": "route chosen"}


def outbox_rows(count: int, t0: datetime) -> list[dict[str, Any]]:
    """`count` outbox rows shaped like the lifecycle's (six events per payment)."""
    rows = []
    for i in range(count):
        payment_id = f"pay_{uuid.UUID(int=i // len(TYPES) + 1).hex}"
        seq = i % len(TYPES) + 1
        kind = TYPES[seq - 1]
        at = t0 + timedelta(milliseconds=i)
        rows.append(
            {
                "id": outbox_id(payment_id, seq),
                "payment_id": payment_id,
                "event_seq": seq,
                "type": kind,
                "payload": {
                    "payment_id": payment_id,
                    "merchant_id": "bench-merchant",
                    "seq": seq,
                    "type": kind,
                    "at": at.isoformat(),
                    "actor": "worker",
                    "state": "PENDING",
                    "data": _data(kind, i),
                },
                "created_at": at,
                "published_at": None,
            }
        )
    return rows


async def _admin(url: str, sql: str) -> None:
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


async def _relay_rep(
    impl: dict[str, Any], engine: AsyncEngine, redis: Redis, count: int, batch: int
) -> float:
    async with engine.begin() as conn:
        await conn.execute(update(outbox).values(published_at=None))
    await redis.delete(EVENTS_STREAM)
    relay = impl["relay"].OutboxRelay(
        impl["outbox"].SqlOutbox(engine),
        uow=InMemoryUnitOfWorkFactory(),
        clock=SystemClock(),
        publisher=impl["events"].RedisEventPublisher(redis),
        batch=batch,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    published = 0
    start = time.process_time()
    while n := await relay.run_once():
        published += n
    cpu = time.process_time() - start
    streamed = await redis.xlen(EVENTS_STREAM)
    if published != count or streamed != count:
        raise SystemExit(f"relay published {published}, stream has {streamed}, expected {count}")
    return cpu / count * 1e6


async def _idle_rep(impl: dict[str, Any], engine: AsyncEngine, redis: Redis, polls: int) -> float:
    relay = impl["relay"].OutboxRelay(
        impl["outbox"].SqlOutbox(engine),
        uow=InMemoryUnitOfWorkFactory(),
        clock=SystemClock(),
        publisher=impl["events"].RedisEventPublisher(redis),
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    await relay.run_once()
    start = time.process_time()
    for _ in range(polls):
        if await relay.run_once():
            raise SystemExit("the outbox was expected empty")
    return (time.process_time() - start) / polls * 1e6


async def _snapshot_rep(
    make: Callable[[Redis], ProviderHealthStore], redis: Redis, args: argparse.Namespace, seed: int
) -> float:
    """CPU µs per snapshot (with its record and a share of the flushes) in a worker's pattern.

    `--rate` payments a second, one after the other; each takes `now` up to `--lag-ms` before
    its snapshot (a worker task takes it before the account lookup and the risk query, so
    concurrent tasks pass `now` out of order), then records an outcome; the store is flushed every 250 ms, and another replica
    writes samples as often. Only the time inside the store's calls is counted.
    """
    await redis.flushdb()
    store, other = make(redis), make(redis)
    rng = random.Random(seed)
    providers = list(ProviderId)
    now = datetime.now(UTC)
    for i in range(150):  # a shared window, as other workers would have written it
        for p in providers:
            await other.record(HealthSample(p, i % 7 != 0, 400 + i, now - timedelta(seconds=i)))
    cpu = 0.0
    snapshots = 0
    next_flush = time.monotonic() + 0.25
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        taken = datetime.now(UTC) - timedelta(milliseconds=rng.uniform(0, args.lag_ms))
        sample = HealthSample(rng.choice(providers), rng.random() > 0.1, 500, datetime.now(UTC))
        start = time.process_time()
        await store.snapshot(taken)
        await store.record(sample)
        if time.monotonic() >= next_flush:
            await getattr(store, "flush", _nothing)()
            next_flush += 0.25
        cpu += time.process_time() - start
        snapshots += 1
        if snapshots % 10 == 0:  # the other replica: a few samples and its flush
            await other.record(sample)
            await getattr(other, "flush", _nothing)()
        await anyio.sleep(1 / args.rate)
    return cpu / snapshots * 1e6


async def _nothing() -> None:
    return None


async def _one_rep(  # noqa: PLR0917
    impl: dict[str, Any],
    label: str,
    engine: AsyncEngine,
    redis: Redis,
    args: argparse.Namespace,
    rep: int,
    results: dict[str, list[float]],
) -> None:
    for batch in [int(b) for b in args.batches.split(",")]:
        us = await _relay_rep(impl, engine, redis, args.events, batch)
        results.setdefault(f"{label}_relay_cpu_us_per_event[batch={batch}]", []).append(us)
    us = await _idle_rep(impl, engine, redis, args.idle_polls)
    results.setdefault(f"{label}_relay_idle_poll_cpu_us", []).append(us)
    us = await _snapshot_rep(impl["health"].RedisHealthStore, redis, args, rep)
    results.setdefault(f"{label}_snapshot_cpu_us", []).append(us)


async def main(args: argparse.Namespace) -> None:
    """Run both parts and print the medians."""
    url = args.database_url
    name = make_url(url).database
    redis = Redis.from_url(args.redis_url)
    await redis.flushdb()
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(url, f'CREATE DATABASE "{name}"')
    results: dict[str, list[float]] = {}
    try:
        await migrate(url)
        engine = make_engine(url, pool_size=5)
        try:
            rows = outbox_rows(args.events, datetime.now(UTC) - timedelta(hours=1))
            async with engine.begin() as conn:
                await conn.execute(delete(outbox))
                await conn.execute(insert(outbox), rows)
            impls: dict[str, dict[str, Any]] = {}
            if args.baseline:
                impls["baseline"] = _at_revision(args.baseline)
            impls["current"] = {key: module for key, (_, module) in MODULES.items()}
            for rep in range(args.reps):
                for label, impl in impls.items():
                    await _one_rep(impl, label, engine, redis, args, rep, results)
                print(
                    f"rep {rep}: " + " ".join(f"{k}={v[-1]:.1f}" for k, v in results.items()),
                    flush=True,
                )
        finally:
            await engine.dispose()
    finally:
        await redis.flushdb()
        await redis.aclose()
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(" ".join(f"{k}={statistics.median(v):.1f}" for k, v in results.items()))


def cli() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batches", default="50,500")
    parser.add_argument("--idle-polls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0, help="per snapshot repetition")
    parser.add_argument("--rate", type=float, default=150.0, help="snapshots a second")
    parser.add_argument(
        "--lag-ms", type=float, default=100.0, help="a task's now is up to this old (uniform)"
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--baseline", help="git revision to compare with (interleaved)")
    args = parser.parse_args()
    if make_url(args.database_url).database in (None, "test", "postgres"):
        raise SystemExit("give the bench its own database (it is dropped at the end)")
    anyio.run(main, args)


if __name__ == "__main__":
    cli()
