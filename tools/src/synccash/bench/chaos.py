"""chaos: N payments through the full stack (separate processes) while it is being broken.

    uv run python -m synccash.bench.chaos --payments 2000            # `make chaos`
    uv run python -m synccash.bench.chaos --payments 300 --outage 10  # the CI size

Prints the fault schedule as it ran, what the client saw, the healing figures
`chaos api_5xx_not_503=<n> recovery_s=<s> payments_failed_no_route=<k>
success_rate_expected_ok=<r> (<ok>/<n>) api_kill_keys_unknown=<u> recovery_by_fault=...`,
then the last line
`chaos payments=<n> lost=<k> double_debits=<d> mismatched=<m> stuck=<s>`. Exit code 1
when any figure is non-zero, a program crashed, or a log leaked a secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio

from synccash.chaos import ChaosConfig, Timings, run_chaos


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synccash.bench.chaos", description=__doc__)
    parser.add_argument("--payments", type=int, default=2000, help="payments to drive")
    parser.add_argument("--load-seconds", type=float, help="length of the load phase")
    parser.add_argument("--seconds", type=float, help="alias of --load-seconds (synccash bench)")
    parser.add_argument("--outage", type=float, default=30.0, help="provider outage (s)")
    parser.add_argument("--settle", type=float, default=180.0, help="max wait until quiet (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--shared-redis",
        metavar="URL",
        help="use this Redis database instead of a private redis-server (the Redis crash "
        "is then skipped), e.g. redis://127.0.0.1:6379/12",
    )
    parser.add_argument("--burst", type=int, default=20, help="initiates in flight at the API kill")
    parser.add_argument(
        "--freeze", type=float, default=35.0, help="how long a worker is frozen (s)"
    )
    parser.add_argument(
        "--shared-postgres",
        metavar="ADMIN_URL",
        help="use (and restart with pg_ctlcluster) this shared cluster instead of a private "
        "instance, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--transaction-timeout", type=int, default=45)
    parser.add_argument("--workdir", type=Path, help="where logs go (default: a temp dir)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the chaos scenario; 0 when every invariant held."""
    args = _parser().parse_args(argv)
    config = ChaosConfig(
        payments=args.payments,
        load_seconds=args.load_seconds or args.seconds,
        outage_seconds=args.outage,
        settle_seconds=args.settle,
        seed=args.seed,
        redis_url=args.shared_redis or "redis://127.0.0.1:6379/12",
        private_redis=args.shared_redis is None,
        burst=args.burst,
        freeze_seconds=args.freeze,
        shared_postgres_url=args.shared_postgres,
        timings=Timings(transaction_timeout_s=args.transaction_timeout),
        workdir=args.workdir,
    )
    report = anyio.run(run_chaos, config)
    sys.stdout.write("\n".join(report.lines()) + "\n")
    sys.stdout.write(f"logs: {report.workdir}\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
