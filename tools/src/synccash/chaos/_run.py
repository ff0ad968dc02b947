"""One chaos run, start to finish: stack up, load under faults, settle, check, tear down."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from attrs import asdict, define, field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.settings import Settings
from synccash.api.auth import mint_token
from synccash.bench.harness.processes import free_port
from synccash.bench.harness.stores import flush_redis
from synccash.chaos._events import EventCollector
from synccash.chaos._faults import EXPECTED_OK, Availability, Healing, burst_plans, measured_line
from synccash.chaos._invariants import Findings, Snapshot, check, load_snapshot
from synccash.chaos._ledger import ledger_differences
from synccash.chaos._load import POOR_BALANCE_MINOR, Client, LoadStats, drive, plan_payments
from synccash.chaos._logscan import scan_logs
from synccash.chaos._procs import ClusterPostgres, Postgres, PrivatePostgres, PrivateRedis
from synccash.chaos._schedule import PROVIDERS, Breaker, Journal, run_schedule, schedule
from synccash.chaos._stack import (
    Stack,
    Timings,
    create_database,
    drop_database,
    service_env,
)

MERCHANT = "chaos-merchant"
_OPEN_SQL = text(
    "SELECT count(*) FROM payments p WHERE p.state IN "
    "('INITIATED','VALIDATING','PENDING','PROCESSING') OR (p.state = 'CONFIRMED' AND EXISTS "
    "(SELECT 1 FROM payment_attempts a WHERE a.payment_id = p.id AND a.kind = 'refund' "
    "AND a.status NOT IN ('succeeded','failed')))"
)
_UNPUBLISHED_SQL = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")


@define
class ChaosConfig:
    """How big and how nasty a run is."""

    payments: int = 2000
    load_seconds: float | None = None  # default: 10 payments/s, at least 30 s
    outage_seconds: float = 30.0
    settle_seconds: float = 180.0
    seed: int = 7
    redis_url: str = "redis://127.0.0.1:6379/12"
    #: True: a private redis-server of the run (so it can be crashed); False: `redis_url`.
    private_redis: bool = True
    #: Initiates in flight when the API is killed (their clients retry the same keys).
    burst: int = 20
    #: How long a worker is frozen (longer than the queue's 30 s visibility timeout).
    freeze_seconds: float = 35.0
    #: None: a private PostgreSQL instance; else the admin URL of the shared cluster
    #: (restarted with pg_ctlcluster, which disturbs everyone else using it).
    shared_postgres_url: str | None = None
    timings: Timings = field(factory=Timings)
    workdir: Path | None = None

    @property
    def load_s(self) -> float:
        """The load phase's length."""
        return self.load_seconds or max(30.0, self.payments / 10)


@define
class ChaosReport:
    """What a run found and what it did."""

    findings: Findings
    journal: list[str]
    load: LoadStats
    leaks: list[str]
    crashes: list[str]
    exit_codes: dict[str, int | None]
    settled_after_s: float | None
    workdir: Path
    measured: str = ""

    @property
    def ok(self) -> bool:
        """No money problem, no crash, no leak."""
        return self.findings.clean and not self.crashes and not self.leaks

    def lines(self, detail_limit: int = 40) -> list[str]:
        """The human report; the last line is the summary line."""
        out = ["fault schedule (as run):", *(f"  {j}" for j in self.journal)]
        statuses = ", ".join(f"{k}={v}" for k, v in sorted(self.load.statuses.items()))
        out.append(
            f"client: {statuses}; retries={self.load.retries} gave_up={len(self.load.gave_up)}"
        )
        out.append(f"states: {self.findings.states}")
        settled = "never" if self.settled_after_s is None else f"{self.settled_after_s:.0f} s"
        out.append(f"quiet after load: {settled}; graceful exit codes: {self.exit_codes}")
        out += [f"crash: {c}" for c in self.crashes]
        out.append(f"chaos log_leaks={len(self.leaks)} crashes={len(self.crashes)}")
        out += [f"leak: {leak}" for leak in self.leaks[:detail_limit]]
        if self.measured:
            out.append(self.measured)
        out += self.findings.details[:detail_limit]
        if len(self.findings.details) > detail_limit:
            out.append(f"… {len(self.findings.details) - detail_limit} more in {self.workdir}")
        out.append(self.findings.line)
        return out


async def _prepare_sandboxes(http: httpx.AsyncClient, plans: list[Any]) -> None:
    poor = [
        {"provider": provider, "msisdn": msisdn, "balance_minor": POOR_BALANCE_MINOR}
        for plan in plans
        for provider, msisdn in plan.poor_wallets
    ]
    if poor:
        (await http.put("/mtn/_admin/wallets", json=poor)).raise_for_status()
    for provider in PROVIDERS:
        config = {"approval_delay": {"min_seconds": 0.2, "max_seconds": 1.5}, "ongoing_seconds": 5}
        (await http.put(f"/{provider}/_admin/config", json=config)).raise_for_status()


async def _ledgers(
    http: httpx.AsyncClient,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, str]]]:
    """Each provider's ledger, and its refunds' original collection references."""
    ledgers, originals = {}, {}
    for provider in PROVIDERS:
        response = await http.get(f"/{provider}/_admin/ledger")
        response.raise_for_status()
        ledgers[provider] = response.json()["entries"]
        response = await http.get(f"/{provider}/_admin/transactions")
        response.raise_for_status()
        originals[provider] = {
            t["reference"]: t["original_reference"]
            for t in response.json()["transactions"]
            if t["kind"] == "refund" and t["original_reference"]
        }
    return ledgers, originals


def _dump(path: Path, snapshot: Snapshot) -> None:
    """Everything the checks read, for whoever investigates a finding."""
    data = {
        "payments": snapshot.payments,
        "attempts": snapshot.attempts,
        "events": snapshot.events,
        "ledger": [asdict(row) for row in snapshot.ledger],
    }
    path.write_text(json.dumps(data, default=str, indent=1))


async def _count(engine: AsyncEngine, statement: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(statement)).scalar_one())


async def _settle(engine: AsyncEngine, seconds: float) -> float | None:
    """Wait until nothing is open and every event is published; seconds it took (None: never)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with contextlib.suppress(Exception):
            if not await _count(engine, _OPEN_SQL) and not await _count(engine, _UNPUBLISHED_SQL):
                return time.monotonic() - started
        await anyio.sleep(1.0)
    return None


async def _watch(stack: Stack, journal: Journal, crashes: list[str], stop: anyio.Event) -> None:
    """Notice a program that died without being killed on purpose, record it and restart it."""
    while not stop.is_set():
        for program in stack.programs:
            if not program.paused and not program.alive and program.process is not None:
                code = program.process.returncode
                crashes.append(f"{program.name} exited with {code} (not killed on purpose)")
                journal.note(f"UNEXPECTED EXIT {program.name} code {code}; restarting")
                program.start()
        with anyio.move_on_after(1.0):
            await stop.wait()


async def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Run the whole chaos scenario and check the invariants."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="synccash-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    postgres: Postgres = (
        ClusterPostgres(config.shared_postgres_url)
        if config.shared_postgres_url
        # its own temp dir: the `postgres` account must reach it (pytest's tmp dirs are 0700)
        else await anyio.to_thread.run_sync(
            lambda: PrivatePostgres(
                Path(tempfile.mkdtemp(prefix="synccash-chaos-pg-")), free_port()
            )
        )
    )
    redis = (
        await anyio.to_thread.run_sync(
            lambda: PrivateRedis(
                Path(tempfile.mkdtemp(prefix="synccash-chaos-redis-")), free_port()
            )
        )
        if config.private_redis
        else None
    )
    try:
        return await _run(config, workdir, postgres, redis)
    finally:
        with contextlib.suppress(Exception):
            await drop_database(postgres)
        postgres.close()
        if redis is not None:
            redis.close()


async def _run(
    config: ChaosConfig, workdir: Path, postgres: Postgres, redis: PrivateRedis | None
) -> ChaosReport:
    database_url = await create_database(postgres)
    redis_url = redis.url if redis is not None else config.redis_url
    flush_redis(redis_url)
    api_port, sandbox_port = free_port(), free_port()
    env = service_env(
        os.environ,
        database_url=database_url,
        redis_url=redis_url,
        api_port=api_port,
        sandbox_port=sandbox_port,
        timings=config.timings,
    )
    stack = Stack.build(
        env, workdir, api_port=api_port, sandbox_port=sandbox_port, seed=config.seed
    )
    plans = plan_payments(config.payments, config.seed)
    token = mint_token(Settings.from_env(env), MERCHANT, ttl_seconds=3 * 3600)
    journal, crashes = Journal(), list[str]()
    collector = EventCollector(redis_url)
    engine = create_async_engine(database_url, pool_pre_ping=True, pool_size=2)
    exit_codes: dict[str, int | None] = {}
    try:
        await anyio.to_thread.run_sync(stack.start)
        async with (
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=10) as admin,
            httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api,
        ):
            await _prepare_sandboxes(admin, plans)
            client = Client(api, token)
            breaker = Breaker(admin, postgres, collector, stack.workers)
            run_id = uuid.uuid4().hex[:8]
            healing = Healing(
                database_url,
                stack.api,
                stack.workers,
                collector,
                client,
                run_id,
                burst_plans(config.payments, config.burst),
                redis,
            )
            steps = schedule(
                breaker, config.load_s, config.outage_seconds, healing, config.freeze_seconds
            )
            availability = Availability(api, token, client)
            stop = anyio.Event()
            settled_after: float | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(collector.run, stop)
                tg.start_soon(_watch, stack, journal, crashes, stop)
                tg.start_soon(availability.run, stop)
                journal.started = time.monotonic()
                async with anyio.create_task_group() as load:
                    load.start_soon(run_schedule, steps, journal)
                    load.start_soon(
                        lambda: drive(
                            client,
                            plans,
                            seconds=config.load_s,
                            run_id=run_id,
                            settle_by=anyio.current_time() + config.load_s + config.settle_seconds,
                        )
                    )
                journal.note("load finished; waiting until quiet")
                settled_after = await _settle(engine, config.settle_seconds)
                journal.note(f"quiet: {settled_after is not None}")
                stop.set()
            await collector.drain()
            ledgers, originals = await _ledgers(admin)
            snapshot = await load_snapshot(engine, ledgers, originals)
            differences = await ledger_differences(engine, ledgers, originals)
        findings = check(snapshot, client.stats.accepted, collector.seen)
        for line in differences:
            findings.problem("ledger_differences", line)
        measured = measured_line(
            healing, availability, client.stats.statuses, _outcomes(snapshot, client.stats)
        )
        _dump(workdir / "snapshot.json", snapshot)
    finally:
        exit_codes = await anyio.to_thread.run_sync(stack.stop)
        await collector.aclose()
        await engine.dispose()
    leaks = scan_logs(stack.log_files(), secrets=[token])
    return ChaosReport(
        findings,
        journal.lines,
        client.stats,
        leaks,
        crashes,
        exit_codes,
        settled_after,
        workdir,
        measured,
    )


def _no_route(event: dict[str, Any]) -> bool:
    """The audit event of a payment failed because no provider could take it."""
    data = event.get("data")
    if isinstance(data, str):
        data = json.loads(data)
    return isinstance(data, dict) and data.get("failure_code") == "no_route_available"


def _outcomes(snapshot: Snapshot, stats: LoadStats) -> tuple[int, int, int]:
    """(payments FAILED for no route, expected-ok ones that succeeded, expected-ok ones)."""
    no_route = sum(
        1
        for pid, row in snapshot.payments.items()
        if row["state"] == "FAILED" and any(_no_route(e) for e in snapshot.events.get(pid, []))
    )
    expected = [a.payment_id for a in stats.accepted.values() if a.plan.scenario in EXPECTED_OK]
    ok = sum(
        1
        for pid in expected
        if snapshot.payments.get(pid, {}).get("state") in ("CONFIRMED", "REFUNDED")
    )
    return no_route, ok, len(expected)
