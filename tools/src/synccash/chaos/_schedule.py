"""The fault schedule: what breaks when, as data, and the actions that break it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import anyio.to_thread
import httpx
from attrs import define, field, frozen

from synccash.chaos._events import EventCollector
from synccash.chaos._faults import Healing
from synccash.chaos._procs import Postgres, Program

PROVIDERS: Final = ("mtn", "airteltigo", "telecel")

#: Standing faults on every provider for the whole load phase.
BASELINE: Final[dict[str, Any]] = {
    "latency_ms": 5,
    "latency_jitter_ms": 40,
    "error_rate": 0.10,
    "error_status": 500,
    "timeout_after_accept_rate": 0.10,
    "hold_seconds": 3.0,
    "drop_callback_rate": 0.30,
    "duplicate_callback_rate": 0.20,
    "duplicate_delay_seconds": 0.5,
    "out_of_order_callback_rate": 0.10,
}
#: After the load phase: providers behave again (callbacks stay lossy: they are hints anyway).
CALM: Final[dict[str, Any]] = {
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "error_rate": 0.0,
    "timeout_after_accept_rate": 0.0,
}
SPIKE: Final[dict[str, Any]] = {"latency_ms": 1500, "latency_jitter_ms": 500}


@frozen
class Step:
    """One scheduled fault: at `at_s` seconds into the load phase."""

    at_s: float
    label: str
    action: Callable[[], Awaitable[str]]


@define
class Journal:
    """What actually happened, with times relative to the start of the load."""

    started: float = field(factory=time.monotonic)
    lines: list[str] = field(factory=list)

    def note(self, text: str) -> None:
        """Record one line."""
        self.lines.append(f"t={time.monotonic() - self.started:6.1f}s  {text}")


@define
class Breaker:
    """The hands of the chaos run: sandbox admin calls, kills, the FLUSHDB, the PG restart."""

    http: httpx.AsyncClient  # base_url = the sandbox process
    postgres: Postgres
    collector: EventCollector
    workers: list[Program]

    async def faults(self, provider: str, changes: dict[str, Any]) -> str:
        """PUT faults on one sandbox."""
        response = await self.http.put(f"/{provider}/_admin/faults", json=changes)
        response.raise_for_status()
        return f"{provider} faults {changes}"

    async def everywhere(self, changes: dict[str, Any]) -> str:
        """The same faults on every sandbox."""
        for provider in PROVIDERS:
            await self.faults(provider, changes)
        return f"all providers {changes}"

    async def outage(self, provider: str, seconds: float) -> str:
        """Every request to `provider` gets 503 for `seconds`."""
        await self.faults(provider, {"outage_for_seconds": seconds})
        return f"{provider} outage for {seconds:.0f} s"

    async def kill_worker(self, index: int, restart_after_s: float) -> str:
        """`kill -9` a worker, then start it again."""
        worker = self.workers[index]
        pid = worker.process.pid if worker.process else None
        worker.paused = True
        worker.kill9()
        await anyio.sleep(restart_after_s)
        worker.start()
        worker.paused = False
        return f"kill -9 {worker.name} (pid {pid}); restarted after {restart_after_s:.0f} s"

    async def flushdb(self) -> str:
        """FLUSHDB the Redis database the stack uses."""
        await self.collector.flush()
        return "FLUSHDB of the run's Redis database"

    async def restart_postgres(self) -> str:
        """Restart the PostgreSQL server under the running stack."""
        took = await anyio.to_thread.run_sync(self.postgres.restart)
        return f"PostgreSQL restarted ({took:.1f} s)"


def schedule(
    breaker: Breaker,
    load_s: float,
    outage_s: float,
    healing: Healing | None = None,
    freeze_s: float = 35.0,
) -> list[Step]:
    """The run's faults, spread over a load phase of `load_s` seconds (with `healing`, also
    terminated backends, a frozen worker, an API killed mid-burst and a Redis crash)."""

    def at(fraction: float) -> float:
        return round(load_s * fraction, 1)

    async def spike(provider: str) -> str:
        await breaker.faults(provider, SPIKE)
        await anyio.sleep(4.0)
        await breaker.faults(provider, {"latency_ms": BASELINE["latency_ms"]})
        return f"{provider} latency spike 1.5-2.0 s for 4 s"

    steps = [
        Step(0.0, "baseline faults", lambda: breaker.everywhere(BASELINE)),
        Step(at(0.15), "latency spike mtn", lambda: spike("mtn")),
        Step(at(0.25), "kill -9 worker-1", lambda: breaker.kill_worker(0, 3.0)),
        Step(at(0.30), "outage airteltigo", lambda: breaker.outage("airteltigo", outage_s)),
        Step(at(0.45), "FLUSHDB", breaker.flushdb),
        Step(at(0.55), "kill -9 worker-2", lambda: breaker.kill_worker(1, 3.0)),
        Step(at(0.65), "PostgreSQL restart", breaker.restart_postgres),
        Step(at(0.75), "latency spike telecel", lambda: spike("telecel")),
        Step(load_s, "calm providers", lambda: breaker.everywhere(CALM)),
    ]
    if healing is not None:
        restart = next(i for i, s in enumerate(steps) if s.label == "PostgreSQL restart")
        steps[restart] = Step(
            steps[restart].at_s,
            "PostgreSQL restart",
            lambda: healing.disruption("postgres_restart", breaker.restart_postgres),
        )
        steps += [
            Step(at(0.20), "terminate PostgreSQL backends", healing.terminate_backends),
            Step(at(0.40), "freeze worker-1", lambda: healing.freeze_worker(0, freeze_s)),
            Step(at(0.50), "kill -9 api mid-burst", lambda: healing.kill_api_in_burst(2.0)),
            Step(at(0.85), "crash Redis", lambda: healing.crash_redis(1.0)),
        ]
    return steps


async def run_schedule(steps: list[Step], journal: Journal) -> None:
    """Run each step at its time (steps may overlap: each runs in its own task)."""
    started = anyio.current_time()

    async def one(step: Step) -> None:
        try:
            journal.note(await step.action())
        except Exception as exc:
            journal.note(f"FAULT ACTION FAILED {step.label}: {type(exc).__name__}: {exc}")

    async with anyio.create_task_group() as tg:
        for step in sorted(steps, key=lambda s: s.at_s):
            delay = started + step.at_s - anyio.current_time()
            if delay > 0:
                await anyio.sleep(delay)
            tg.start_soon(one, step)
