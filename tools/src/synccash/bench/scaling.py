"""bench-scaling: lifecycle throughput at 1, 2 and 4 worker processes; latency as load rises.

The same processes as bench-lifecycle (PostgreSQL, Redis, sandboxes with zero approval
delay, the API, worker processes). Two tables:

- throughput: N payments at full speed with 1, 2 and 4 worker processes (workers are
  restarted between rows, so each row's worker peak RSS is its own);
- latency: open-loop offered rates (default 50, 100, 200, 400 initiates/s for a few
  seconds each) with 2 workers; initiate -> CONFIRMED percentiles per rate.

Peak RSS (VmHWM) of the API and of the largest worker process; CPU per lifecycle per role.

    uv run python -m synccash.bench.scaling [--payments 1000] [--workers 1,2,4]
        [--rates 50,100,200,400] [--seconds 5] [--latency-workers 2]

Last line: scaling_w1_per_s=<n> scaling_w2_per_s=<n> scaling_w4_per_s=<n>
p99_ms_at_<rate>=<ms> api_peak_rss_mb=<mb> worker_peak_rss_mb=<mb>
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from synccash.bench.harness.load import run_batch
from synccash.bench.harness.processes import load_average, stop_on_sigterm
from synccash.bench.harness.stack import Stack


def _ints(raw: str) -> list[int]:
    return [int(x) for x in raw.split(",") if x.strip()]


def main() -> None:
    """Run both tables and print the summary line last."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--workers", type=_ints, default=[1, 2, 4])
    parser.add_argument("--rates", type=_ints, default=[50, 100, 200, 400], help="'' for none")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--latency-workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    stop_on_sigterm()
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    throughput: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    first = 0
    with Stack(workers=args.workers[0]).running() as stack:
        for count in args.workers:
            if count != stack.workers:
                stack.start_workers(count)
            if args.warmup:
                run_batch(stack, first=20_000_000 + first, count=args.warmup, connections=16)
            run = run_batch(
                stack, first=first, count=args.payments, connections=args.connections, timeout=600
            )
            first += args.payments
            throughput.append(
                {
                    "workers": count,
                    "tasks_per_worker": stack.worker_concurrency_used,
                    "lifecycle_per_s": round(run.lifecycle_per_s, 1),
                    "initiate_per_s": round(run.initiate_per_s, 1),
                    "p50_ms": run.latency_ms["p50"],
                    "p99_ms": run.latency_ms["p99"],
                    "cpu_ms_per_lifecycle": run.cpu_ms_per_lifecycle["total"],
                    "states": run.states,
                    "load_average": load_average(),
                    **stack.rss(),
                }
            )
            print(f"workers={count}: {json.dumps(throughput[-1])}", flush=True)
        if args.latency_workers != stack.workers:
            stack.start_workers(args.latency_workers)
        for rate in args.rates:
            count = max(1, round(rate * args.seconds))
            run = run_batch(
                stack,
                first=first,
                count=count,
                connections=args.connections,
                rate=float(rate),
                timeout=300,
            )
            first += count
            latency.append(
                {
                    "offered_per_s": rate,
                    "initiate_per_s": round(run.initiate_per_s, 1),
                    "lifecycle_per_s": round(run.lifecycle_per_s, 1),
                    **{f"{k}_ms": v for k, v in run.latency_ms.items()},
                    "states": run.states,
                    "load_average": load_average(),
                }
            )
            print(f"offered={rate}/s: {json.dumps(latency[-1])}", flush=True)
        rss = stack.rss()
        peak_worker = max([row["worker_peak_rss_mb"] for row in throughput] + [0.0])
        rss["worker_peak_rss_mb"] = max(rss["worker_peak_rss_mb"], peak_worker)

    print("\nworkers  lifecycles/s  p50 ms   p99 ms   CPU ms/lifecycle  worker RSS MB")
    for row in throughput:
        print(
            f"{row['workers']:>7}  {row['lifecycle_per_s']:>12.1f}  {row['p50_ms']:>7.0f}  "
            f"{row['p99_ms']:>7.0f}  {row['cpu_ms_per_lifecycle']:>16.2f}  "
            f"{row['worker_peak_rss_mb']:>13.1f}"
        )
    print("\noffered/s  achieved/s   p50 ms   p90 ms   p99 ms")
    for row in latency:
        print(
            f"{row['offered_per_s']:>9}  {row['lifecycle_per_s']:>10.1f}  {row['p50_ms']:>7.0f}  "
            f"{row['p90_ms']:>7.0f}  {row['p99_ms']:>7.0f}"
        )
    print(f"\npeak RSS: {rss}; load average after: {load_average()}")
    if args.json:
        args.json.write_text(
            json.dumps({"throughput": throughput, "latency": latency, **rss}, indent=2)
        )
    parts = [f"scaling_w{row['workers']}_per_s={row['lifecycle_per_s']:.0f}" for row in throughput]
    parts += [f"p99_ms_at_{row['offered_per_s']}={row['p99_ms']:.0f}" for row in latency]
    parts += [f"api_peak_rss_mb={rss['api_peak_rss_mb']:.0f}"]
    parts += [f"worker_peak_rss_mb={rss['worker_peak_rss_mb']:.0f}"]
    print(" ".join(parts))


if __name__ == "__main__":
    main()
