"""bench-core: pure initiate decisions per second on one core.

One decision = parse the amount and MSISDNs, validate the wallets and payee, run
every fraud rule, quote fees and route over three providers with health data.
No I/O. Prints `core_decisions_per_s=<n>` as its last line.

    uv run python -m synccash.bench.core [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from synccash.core.commands import WalletInput
from synccash.core.decision import evaluate
from synccash.core.fraud import RiskSignals
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, HealthTracker
from synccash.core.routing import Router
from synccash.core.service import parse_payee, parse_wallets

_AMOUNTS = ("12.50", "250", "1000.00", "75.25", "3.10", "480")
_WALLETS = (
    WalletInput("mtn", "0241234567", "500.00"),
    WalletInput("telecel", "0201234567"),
    WalletInput("airteltigo", "0271234567", "2000"),
)


def _health(now: datetime) -> HealthTracker:
    tracker = HealthTracker()
    for i in range(300):
        at = now - timedelta(seconds=300 - i)
        tracker.record(HealthSample(ProviderId.MTN, i % 10 != 0, 800 + i % 50, at))
        tracker.record(HealthSample(ProviderId.TELECEL, i % 20 != 0, 1200 + i % 70, at))
        tracker.record(HealthSample(ProviderId.AIRTELTIGO, i % 4 != 0, 1500 + i % 90, at))
    return tracker


def run(seconds: float) -> float:
    """Run decisions for about `seconds`; return decisions per second."""
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    health = _health(now).snapshot(now)
    router = Router()
    signals = RiskSignals(
        payer_count_1h=2,
        payer_count_24h=5,
        payer_sum_24h=Money(80_000),
        payer_median_amount_30d=Money(20_000),
        payee_known_to_payer=True,
    )
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for i in range(200):
            amount = Money.parse(_AMOUNTS[i % len(_AMOUNTS)])
            payer = Msisdn.parse("+233 24 123 4567")
            wallets = parse_wallets(payer, _WALLETS, "GHS")
            payee = parse_payee("0551234567", None)
            result = evaluate(
                router=router,
                amount=amount,
                wallets=wallets,
                payee=payee,
                signals=signals,
                health=health,
                seed=i,
                on=now.date(),
            )
            if result.routing.chosen is None:  # pragma: no cover - the scenario always routes
                raise SystemExit("benchmark scenario produced no route")
            count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    run(min(0.5, args.seconds))  # warm-up
    rate = run(args.seconds)
    print(f"core_decisions_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
