"""A database blip under load: every PostgreSQL backend of this run's database is terminated
(what a failover or restart does to every pooled connection) while an API takes initiates,
status reads and cancels and two workers' outbox relays publish. Nothing answers 500, reads
heal within 10 s, and both relays (the scheduler's leader and the other) publish again."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.adapters.bootstrap import Container, bootstrap
from synccash.adapters.settings import Settings
from synccash.api import create_app, mint_token
from synccash.worker.metrics import WorkerMetrics
from synccash.worker.relay import OutboxRelay
from synccash.worker.scheduler import Scheduler

pytestmark = pytest.mark.integration

HEAL_WITHIN_S = 10.0
#: Only the backends of this test's own database (never another database on the server).
TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
BODY = {"amount": "12.50", "payer": {"msisdn": "0241234567"}, "payee": {"msisdn": "0551234567"}}


class Load:
    """Initiates, status reads and cancels in a loop; every answer kept with its time."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.answers: list[tuple[float, str, int]] = []  # (when, what, status)
        self.ids: list[str] = []
        self._keys = itertools.count()

    async def run(self, stop: anyio.Event) -> None:
        """One initiate, one status read of a known payment, one cancel, until `stop`."""
        while not stop.is_set():
            await self._initiate()
            if self.ids:
                payment = self.ids[len(self.answers) % len(self.ids)]
                await self._call("read", "GET", f"/api/v1/payments/{payment}/status")
                await self._call("cancel", "POST", f"/api/v1/payments/{payment}/cancel")
            await anyio.sleep(0.02)

    async def _initiate(self) -> None:
        key = f"blip-{next(self._keys)}"
        response = await self._call(
            "initiate",
            "POST",
            "/api/v1/payments/initiate",
            json={**BODY, "reference": key},
            headers={"Idempotency-Key": key},
        )
        if response.status_code == 202:
            self.ids.append(response.json()["id"])

    async def _call(self, what: str, method: str, url: str, **kwargs: object) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        response = await self.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        self.answers.append((time.monotonic(), what, response.status_code))
        return response


class RelayWatch:
    """A relay of its own container (a worker process) and when it last published."""

    def __init__(self, container: Container) -> None:
        self.registry = CollectorRegistry()
        self.relay = OutboxRelay(
            container.outbox,
            uow=container.uow,
            clock=container.clock,
            publisher=container.publisher,
            metrics=WorkerMetrics(self.registry),
            failures=container.failures,
        )

    def published(self) -> float:
        """Events this relay has published so far."""
        return self.registry.get_sample_value("synccash_worker_outbox_published_total") or 0.0


async def _first_publish_after(watch: RelayWatch, since: float) -> float:
    """Seconds from `since` until the relay publishes something more (polls every 50 ms)."""
    before = watch.published()
    while watch.published() <= before:  # noqa: ASYNC110 (a Prometheus counter has no event)
        await anyio.sleep(0.05)
    return time.monotonic() - since


async def _terminate_backends(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.exec_driver_sql(TERMINATE)).scalar_one())
    finally:
        await engine.dispose()


def _failures_after(answers: list[tuple[float, str, int]], what: str, since: float) -> list[float]:
    return [at for at, kind, status in answers if kind == what and at >= since and status >= 300]


async def test_a_database_blip_heals_without_500s(
    make_settings: Callable[..., Settings], api_database_url: str, merchant: str
) -> None:
    """Terminated backends: only 2xx/4xx/503, reads and both relays back within 10 s."""
    settings = make_settings()
    scopes = ["payments:write", "payments:read"]
    headers = {"Authorization": f"Bearer {mint_token(settings, merchant, scopes)}"}
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(bootstrap(settings))
        worker_a = await stack.enter_async_context(bootstrap(settings))
        worker_b = await stack.enter_async_context(bootstrap(settings))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(api)), base_url="http://api.test"
            )
        )
        load = Load(client, headers)
        relays = [RelayWatch(worker_a), RelayWatch(worker_b)]
        leader = Scheduler(worker_a.lifecycle, worker_a.locks, lock_key=f"blip:{merchant}")
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(load.run, stop)
            for watch in relays:
                tg.start_soon(lambda w=watch: w.relay.run(stop, idle_s=0.1))
            tg.start_soon(lambda: leader.run(stop, interval_s=0.5))
            with anyio.fail_after(10):  # warm: every relay publishes before the blip
                for watch in relays:
                    await _first_publish_after(watch, time.monotonic())
            assert leader.is_leader
            blip = time.monotonic()
            assert await _terminate_backends(api_database_url) >= 3
            with anyio.fail_after(HEAL_WITHIN_S):
                relay_heal_s = await asyncio.gather(
                    *(_first_publish_after(watch, blip) for watch in relays)
                )
            await anyio.sleep(3)  # keep the load going after every relay healed
            stop.set()
    statuses = {status for _, _, status in load.answers}
    assert set() == {s for s in statuses if s >= 500 and s != 503}
    after = [a for a in load.answers if a[0] >= blip]
    assert len(after) > 20
    failed_reads = _failures_after(load.answers, "read", blip)
    last_failed_read = max(failed_reads, default=blip)
    assert last_failed_read - blip < HEAL_WITHIN_S
    assert any(
        kind == "read" and status == 200 and at > last_failed_read for at, kind, status in after
    )
    assert all(s < HEAL_WITHIN_S for s in relay_heal_s)
    unavailable = sum(1 for _, _, status in after if status == 503)
    print(  # the measurement, for `pytest -s`
        f"blip answers={len(after)} unavailable_503={unavailable} "
        f"reads_healed_s={last_failed_read - blip:.2f} "
        f"relays_healed_s={','.join(f'{s:.2f}' for s in relay_heal_s)}"
    )
