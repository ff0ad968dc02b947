"""bench-polling: many in-flight MTN collections, callbacks dropped, status queries on a budget.

Drives `--collections` (default 1,200) MTN collections at once through the real
`MtnMomoClient` (over the in-process MTN sandbox, callbacks dropped, payers approving
after a uniform `--approval-min`..`--approval-max` seconds) wrapped in the production
`BudgetedGateway` (`--budget`, MTN's 150/s by default). Every collection then polls as the
core lifecycle does: `synccash.core.retry.poll_delay` after submit, a TRANSIENT answer
(no budget token within 2 s) moving it to the next step of the ladder, until the status
is final. Prints the peak status-query rate the sandbox saw in any one-second window
(which must never pass the budget), how many queries went out and were held back, and
the time from submit to final answer (p50 / p95 / max).

    python -m synccash.bench.polling [--collections 1200] [--budget 150]
"""

from __future__ import annotations

import argparse
import bisect
import logging
import statistics
import time
import uuid
from datetime import timedelta

import anyio
import httpx
import structlog

from synccash.adapters.memory.ratelimit import MemoryRateLimiter
from synccash.adapters.providers.budget import BudgetedGateway, bucket_shape
from synccash.adapters.providers.gateway import MultiProviderGateway
from synccash.adapters.providers.mtn import MtnMomoClient
from synccash.adapters.settings import Settings
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.ports import AttemptRequest
from synccash.core.providers import ProviderId
from synccash.core.retry import poll_delay
from synccash.sandbox import ApprovalDelay, mtn


def _peak_per_second(times: list[float]) -> int:
    """The most timestamps in any one-second window (sliding)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


async def _collect(gateway: BudgetedGateway, n: int, held: list[int], finals: list[float]) -> None:
    reference = str(uuid.uuid4())
    request = AttemptRequest(
        provider=ProviderId.MTN,
        kind=AttemptKind.COLLECT,
        reference=reference,
        amount=Money.parse("10"),
        msisdn=Msisdn.parse(f"0245{n % 1_000_000:06d}"),  # never a sandbox test number
        payment_id=f"bench{n}",
        note="bench",
    )
    started = time.monotonic()
    await gateway.submit(request)
    polls = 0
    while True:
        delay = poll_delay(timedelta(seconds=time.monotonic() - started), polls)
        if delay is None:
            return
        await anyio.sleep(delay.total_seconds())
        polls += 1
        outcome = await gateway.status(ProviderId.MTN, AttemptKind.COLLECT, reference)
        if outcome.provider_code == "status_budget":
            held[0] += 1
        if outcome.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED):
            finals.append(time.monotonic() - started)
            return


async def run(collections: int, budget: int, approval: tuple[float, float]) -> dict[str, float]:
    """Run the bench; returns its numbers."""
    settings = Settings.from_env({})
    sandbox = mtn.create_sandbox()
    sandbox.config.approval_delay = ApprovalDelay(*approval)
    sandbox.set_faults(drop_callback_rate=1.0)
    queries: list[float] = []

    async def count(request: httpx.Request) -> None:
        if request.method == "GET" and "/requesttopay/" in request.url.path:
            queries.append(time.monotonic())

    transport = httpx.ASGITransport(app=mtn.create_app(sandbox))
    async with (
        sandbox.running(),
        httpx.AsyncClient(
            transport=transport, base_url="http://mtn", event_hooks={"request": [count]}
        ) as http,
    ):
        client = MtnMomoClient(
            http,
            collection=settings.mtn_collection,
            disbursement=settings.mtn_disbursement,
            target_environment=settings.mtn_target_environment,
            public_base_url=None,
            base_url="",
        )
        capacity, rate = bucket_shape(budget)
        gateway = BudgetedGateway(
            MultiProviderGateway({ProviderId.MTN: client}),
            {ProviderId.MTN: MemoryRateLimiter(capacity=capacity, per_second=rate)},
        )
        held: list[int] = [0]
        finals: list[float] = []
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for n in range(collections):
                group.start_soon(_collect, gateway, n, held, finals)
        wall = time.monotonic() - started
    await sandbox.aclose()
    finals.sort()
    return {
        "collections": collections,
        "budget_per_s": budget,
        "peak_status_per_s": _peak_per_second(queries),
        "status_queries": len(queries),
        "held_back": held[0],
        "final": len(finals),
        "final_p50_s": statistics.median(finals) if finals else 0.0,
        "final_p95_s": finals[int(0.95 * (len(finals) - 1))] if finals else 0.0,
        "final_max_s": finals[-1] if finals else 0.0,
        "wall_s": wall,
    }


def main() -> None:
    """CLI entry point: print the numbers, one `name=value` per line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=1200)
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--approval-min", type=float, default=2.0)
    parser.add_argument("--approval-max", type=float, default=20.0)
    args = parser.parse_args()
    # one info line per submit would drown the numbers
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    numbers = anyio.run(run, args.collections, args.budget, (args.approval_min, args.approval_max))
    for name, value in numbers.items():
        print(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}")
    if numbers["peak_status_per_s"] > args.budget:
        raise SystemExit("peak status-query rate passed the budget")


if __name__ == "__main__":
    main()
