"""The faults that test healing, and what the run measures around them.

- `terminate_backends`: every PostgreSQL backend of the run's database terminated (what a
  failover does to every pooled connection), not a restart;
- `freeze_worker`: a worker SIGSTOPped longer than the queue's visibility timeout, then
  resumed (its deliveries were redelivered to the other worker meanwhile);
- `kill_api_in_burst`: `kill -9` of the API while a burst of initiates is in flight; the
  clients retry the same Idempotency-Keys, and every key must resolve to its payment
  within 10 s of retrying;
- `crash_redis`: the run's private Redis `kill -9`ed and started again empty (the API and
  workers are frozen for the instant of the kill, so the event observer reads the stream
  to its end first; their connections then find Redis gone).

`Availability` probes a status read every 0.25 s during the load: `recovery_s` of a fault is
how long after it the probe's last failure came (0 when it never failed).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import anyio.to_thread
import httpx
from attrs import define, field
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.chaos._events import EventCollector
from synccash.chaos._load import PAYEE_ACCOUNT, Client, Planned, Scenario, wallet
from synccash.chaos._procs import PrivateRedis, Program, freeze, thaw

#: Only this run's database (never another one on the server).
TERMINATE_SQL: Final = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
#: A key must resolve within this long of its client retrying (issue target).
RESOLVE_WITHIN_S: Final = 10.0
PROBE_EVERY_S: Final = 0.25
#: What would succeed with no faults at all (final CONFIRMED, or REFUNDED when refunded).
EXPECTED_OK: Final = frozenset(
    {Scenario.SUCCESS, Scenario.TWO_WALLETS, Scenario.FAILOVER, Scenario.REFUND}
)


def burst_plans(first_n: int, count: int) -> list[Planned]:
    """`count` plain payments (numbered from `first_n`) for the API-kill burst."""
    plans = []
    for i in range(count):
        n = first_n + i
        payer = f"024{1_000_000 + n % 8_999_999:07d}"
        body = {
            "amount": f"{10 + i % 90}.{i % 100:02d}",
            "currency": "GHS",
            "payer": {"msisdn": payer, "wallets": [wallet("mtn", payer)]},
            "payee": {"merchant_account": PAYEE_ACCOUNT},
            "description": "chaos burst",
            "reference": f"chaos-{n}",
        }
        plans.append(Planned(n, Scenario.SUCCESS, body))
    return plans


@define
class Availability:
    """Status reads of one accepted payment, every PROBE_EVERY_S, with their answers."""

    http: httpx.AsyncClient
    token: str
    client: Client
    samples: list[tuple[float, int]] = field(factory=list)  # (monotonic, status; 0 = none)
    statuses: Counter[int] = field(factory=Counter)

    async def run(self, stop: anyio.Event) -> None:
        """Probe until `stop`."""
        headers = {"Authorization": f"Bearer {self.token}"}
        while not stop.is_set():
            accepted = next(iter(self.client.stats.accepted), None)
            if accepted is not None:
                try:
                    response = await self.http.get(
                        f"/api/v1/payments/{accepted}/status", headers=headers, timeout=2.0
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                self.samples.append((time.monotonic(), status))
                self.statuses[status] += 1
            with anyio.move_on_after(PROBE_EVERY_S):
                await stop.wait()

    def recovery_s(self, since: float, until: float) -> float:
        """Seconds from `since` to the last failed probe before `until` (0: none failed)."""
        failed = [at for at, status in self.samples if since <= at < until and status != 200]
        return 0.0 if not failed else max(failed) - since + PROBE_EVERY_S


@define
class Healing:
    """The healing faults and their measurements (see the module docstring)."""

    database_url: str
    api: Program
    workers: list[Program]
    collector: EventCollector
    client: Client
    run_id: str
    burst: list[Planned]
    redis: PrivateRedis | None = None
    disruptions: list[tuple[str, float]] = field(factory=list)
    keys_unknown: int | None = None

    async def disruption(self, label: str, action: Callable[[], Awaitable[str]]) -> str:
        """Run another fault `action` as a disruption whose recovery is measured."""
        self.disruptions.append((label, time.monotonic()))
        return await action()

    async def terminate_backends(self) -> str:
        """pg_terminate_backend of every other backend of the run's database."""
        self.disruptions.append(("terminate_backends", time.monotonic()))
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                killed = int((await conn.exec_driver_sql(TERMINATE_SQL)).scalar_one())
        finally:
            await engine.dispose()
        return f"terminated {killed} PostgreSQL backends of the run's database"

    async def freeze_worker(self, index: int, seconds: float) -> str:
        """SIGSTOP a worker for `seconds` (longer than the visibility timeout), then SIGCONT."""
        worker = self.workers[index]
        pid = freeze(worker)
        if pid is None:
            return f"{worker.name} not running: not frozen"
        await anyio.sleep(seconds)
        resumed = thaw(worker, pid)
        what = "resumed" if resumed else "not resumed (killed meanwhile)"
        return f"froze {worker.name} (pid {pid}) for {seconds:.0f} s; {what}"

    async def kill_api_in_burst(self, restart_after_s: float) -> str:
        """`kill -9` the API with a burst of initiates in flight; clients retry their keys."""
        resolved: dict[int, float] = {}

        async def one(plan: Planned) -> None:
            if await self.client.initiate(plan, self.run_id) is not None:
                resolved[plan.n] = time.monotonic()

        async with anyio.create_task_group() as tg:
            for plan in self.burst:
                tg.start_soon(one, plan)
            await anyio.sleep(0.05)  # the burst is on the wire
            killed_at = time.monotonic()
            self.disruptions.append(("kill_api", killed_at))
            self.api.paused = True
            self.api.kill9()
            await anyio.sleep(restart_after_s)
            self.api.start()
            self.api.paused = False
            back_at = await self._answering_again()
        # the target: a key its client retried for 10 s once the API answers is resolved
        deadline = back_at + RESOLVE_WITHIN_S
        self.keys_unknown = sum(1 for p in self.burst if resolved.get(p.n, deadline + 1) > deadline)
        return (
            f"kill -9 api with {len(self.burst)} initiates in flight; restarted after "
            f"{restart_after_s:.0f} s, answering {back_at - killed_at:.1f} s after the kill; "
            f"{len(resolved)} keys resolved, {self.keys_unknown} still unknown "
            f"{RESOLVE_WITHIN_S:.0f} s after it answered"
        )

    async def _answering_again(self, timeout_s: float = 60.0) -> float:
        """When the restarted API answers its liveness check (monotonic)."""
        with anyio.move_on_after(timeout_s):
            while True:
                try:
                    response = await self.client.http.get("/api/v1/health/live", timeout=1.0)
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await anyio.sleep(0.1)
        return time.monotonic()

    async def crash_redis(self, down_s: float) -> str:
        """`kill -9` the run's private Redis and start it again, empty."""
        redis = self.redis
        if redis is None:
            return "Redis crash skipped: the run uses a shared Redis (--shared-redis)"
        self.disruptions.append(("crash_redis", time.monotonic()))
        frozen = [(p, freeze(p)) for p in (self.api, *self.workers)]
        took = 0.0

        async def crash() -> None:
            nonlocal took
            took = await anyio.to_thread.run_sync(redis.crash, down_s)

        try:
            await self.collector.around_crash(crash)
        finally:
            for program, pid in frozen:
                if pid is not None:
                    thaw(program, pid)
        return f"kill -9 Redis; started again empty after {took:.1f} s"


def measured_line(
    healing: Healing,
    availability: Availability,
    load_statuses: Counter[str],
    outcomes: tuple[int, int, int],
) -> str:
    """`chaos api_5xx_not_503=… recovery_s=… payments_failed_no_route=… …` for the report."""
    bad = sum(
        count
        for name, count in load_statuses.items()
        if name.split()[-1].isdigit() and int(name.split()[-1]) >= 500 and name[-3:] != "503"
    )
    bad += sum(c for status, c in availability.statuses.items() if status >= 500 and status != 503)
    marks = sorted(healing.disruptions, key=lambda d: d[1])
    recoveries = [
        (label, availability.recovery_s(at, marks[i + 1][1] if i + 1 < len(marks) else at + 120))
        for i, (label, at) in enumerate(marks)
    ]
    worst = max((r for _, r in recoveries), default=0.0)
    no_route, ok, expected = outcomes
    rate = ok / expected if expected else 1.0
    each = ",".join(f"{label}:{r:.1f}" for label, r in recoveries) or "-"
    unknown = "-" if healing.keys_unknown is None else str(healing.keys_unknown)
    return (
        f"chaos api_5xx_not_503={bad} recovery_s={worst:.1f} payments_failed_no_route={no_route} "
        f"success_rate_expected_ok={rate:.3f} ({ok}/{expected}) "
        f"api_kill_keys_unknown={unknown} recovery_by_fault={each}"
    )
