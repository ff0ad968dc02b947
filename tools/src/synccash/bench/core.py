"""bench-core: pure initiate decisions per second on one core.

One decision = parse the amount and MSISDNs, validate the wallets and payee, run
every fraud rule, quote fees and route over three providers with health data.
No I/O. Prints the CPU-time rate (steady on a loaded machine) and then, as its
last line, `core_decisions_per_s=<n>` (wall clock).

    uv run python -m synccash.bench.core [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from attrs import frozen

from synccash.core.commands import WalletInput
from synccash.core.decision import evaluate
from synccash.core.fraud import RiskSignals
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, HealthTracker
from synccash.core.routing import Router
from synccash.core.service import PaymentPolicy, parse_amount, parse_payee, parse_wallets

_AMOUNTS = ("12.50", "250", "1000.00", "75.25", "3.10", "480")
# A few payers and payees, so parsing sees more than one input (parsers cache nothing).
_PAYERS = ("+233 24 123 4567", "0241234567", "233241234567", "024 123 4567")
_PAYEES = ("0551234567", "0201112223", "0271234500", "0541234567")
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


@frozen
class Rate:
    """Decisions per second of one run, by the wall clock and by this process's CPU time."""

    decisions: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def wall_per_s(self) -> float:
        """Decisions per wall-clock second (what a user of this machine sees)."""
        return self.decisions / self.wall_seconds

    @property
    def cpu_per_s(self) -> float:
        """Decisions per CPU second of this process (steadier on a loaded machine)."""
        return self.decisions / max(self.cpu_seconds, 1e-9)


def measure(seconds: float) -> Rate:
    """Run decisions for about `seconds`, exactly as the VALIDATING step makes them."""
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
    policy = PaymentPolicy()
    on = now.date()
    count = 0
    wall_started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = wall_started + seconds
    while time.perf_counter() < deadline:
        for i in range(200):
            # The parsing of PaymentService.initiate, then the decision of _validate.
            amount = parse_amount(_AMOUNTS[i % len(_AMOUNTS)], "GHS", policy)
            payer = Msisdn.parse(_PAYERS[i % len(_PAYERS)])
            wallets = parse_wallets(payer, _WALLETS, "GHS")
            payee = parse_payee(_PAYEES[i % len(_PAYEES)], None)
            result = evaluate(
                router=router,
                amount=amount,
                wallets=wallets,
                payee=payee,
                signals=signals,
                health=health,
                seed=i,
                on=on,
            )
            if result.routing.chosen is None:  # pragma: no cover - the scenario always routes
                raise SystemExit("benchmark scenario produced no route")
        count += 200
    cpu = time.process_time() - cpu_started
    return Rate(count, time.perf_counter() - wall_started, cpu)


def run(seconds: float) -> float:
    """Run decisions for about `seconds`; return decisions per (wall-clock) second."""
    return measure(seconds).wall_per_s


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    measure(min(0.5, args.seconds))  # warm-up: caches, branch history, first-use imports
    rate = measure(args.seconds)
    print(f"decisions={rate.decisions} wall_s={rate.wall_seconds:.2f} cpu_s={rate.cpu_seconds:.2f}")
    print(f"core_decisions_per_cpu_s={rate.cpu_per_s:.0f}")
    print(f"core_decisions_per_s={rate.wall_per_s:.0f}")


if __name__ == "__main__":
    main()
