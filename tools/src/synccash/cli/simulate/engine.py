"""Replay synthetic payments through each policy with the core's failover rules.

For every payment (in time order) and every policy: ask the policy for its wallet
order, send attempts into the simulated world, feed provider outcomes back to
the policy (SyncCash's HealthTracker learns; baselines ignore them), and walk to
the next wallet only when `synccash.core.retry.next_step` says FAIL_OVER.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from attrs import define, field, frozen

from synccash.cli.simulate.policies import Policy, default_policies
from synccash.cli.simulate.scenario import Scenario
from synccash.cli.simulate.world import SimPayment, World, fee_book_for
from synccash.core.fraud import RiskDecision
from synccash.core.money import Money
from synccash.core.reliability import HealthSample
from synccash.core.retry import NextStep, next_step


@define
class Bucket:
    """One slice of simulated time for one policy."""

    payments: int = 0
    confirmed: int = 0
    first_choice: Counter[str] = field(factory=Counter)

    @property
    def success_rate(self) -> float | None:
        """Confirmed share of routed payments in the slice (None: no payments)."""
        return self.confirmed / self.payments if self.payments else None


@define
class PolicyResult:
    """Everything one policy did over the run."""

    name: str
    buckets: list[Bucket]
    payments: int = 0  # payments the risk rules let through
    blocked: int = 0
    confirmed: int = 0
    attempts: int = 0
    failovers: int = 0
    fees_minor: int = 0
    time_to_final_ms: int = 0
    failures: Counter[str] = field(factory=Counter)
    attempts_by_provider: Counter[str] = field(factory=Counter)
    confirmed_by_provider: Counter[str] = field(factory=Counter)

    @property
    def success_rate(self) -> float:
        """Confirmed / payments allowed by the risk rules."""
        return self.confirmed / self.payments if self.payments else 0.0

    def explain(self, bucket_hours: float) -> dict[str, Any]:
        """JSON-ready numbers (fees as decimal strings)."""
        return {
            "policy": self.name,
            "payments": self.payments,
            "blocked_by_risk": self.blocked,
            "confirmed": self.confirmed,
            "success_rate": round(self.success_rate, 6),
            "attempts": self.attempts,
            "failovers": self.failovers,
            "fees_paid": Money(self.fees_minor).to_decimal_string(),
            "mean_fee_per_confirmed": (
                Money(round(self.fees_minor / self.confirmed)).to_decimal_string()
                if self.confirmed
                else None
            ),
            "mean_time_to_final_ms": (
                round(self.time_to_final_ms / self.payments) if self.payments else None
            ),
            "failures": dict(sorted(self.failures.items())),
            "attempts_by_provider": dict(sorted(self.attempts_by_provider.items())),
            "confirmed_by_provider": dict(sorted(self.confirmed_by_provider.items())),
            "timeline": [
                {
                    "from_hour": round(i * bucket_hours, 4),
                    "payments": b.payments,
                    "success_rate": None if b.success_rate is None else round(b.success_rate, 6),
                    "first_choice": dict(sorted(b.first_choice.items())),
                }
                for i, b in enumerate(self.buckets)
            ],
        }


@frozen
class SimulationResult:
    """The outcome of one run: one PolicyResult per policy, SyncCash first."""

    scenario: Scenario
    payments: int
    seed: int
    bucket_hours: float
    results: tuple[PolicyResult, ...]

    def by_name(self, name: str) -> PolicyResult:
        """The result of one policy."""
        return next(r for r in self.results if r.name == name)

    def explain(self) -> dict[str, Any]:
        """JSON-ready summary of the run."""
        return {
            "scenario": self.scenario.name,
            "payments": self.payments,
            "seed": self.seed,
            "hours": self.scenario.hours,
            "bucket_hours": self.bucket_hours,
            "policies": [r.explain(self.bucket_hours) for r in self.results],
        }


def simulate(
    scenario: Scenario,
    *,
    payments: int | None = None,
    seed: int | None = None,
    buckets: int = 48,
    policies: Sequence[Policy] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run the scenario; `progress(n)` is called with the number of payments done so far."""
    count = payments if payments is not None else scenario.payments
    run_seed = seed if seed is not None else scenario.seed
    world = World(scenario, fee_book_for(scenario))
    chosen = list(policies) if policies is not None else default_policies(world)
    n_buckets = max(1, min(buckets, count))
    bucket_hours = scenario.hours / n_buckets
    results = [PolicyResult(p.name, [Bucket() for _ in range(n_buckets)]) for p in chosen]
    for payment in world.payments(count, run_seed):
        bucket = min(int(payment.hour / bucket_hours), n_buckets - 1)
        for policy, result in zip(chosen, results, strict=True):
            _run_one(world, policy, result, result.buckets[bucket], payment)
        if progress is not None and (payment.index + 1) % 100 == 0:
            progress(payment.index + 1)
    if progress is not None:
        progress(count)
    return SimulationResult(scenario, count, run_seed, bucket_hours, tuple(results))


def _run_one(
    world: World, policy: Policy, result: PolicyResult, bucket: Bucket, payment: SimPayment
) -> None:
    if payment.risk.decision is RiskDecision.BLOCK:
        result.blocked += 1
        return
    result.payments += 1
    bucket.payments += 1
    wallets = policy.route(payment, payment.at)
    if not wallets:
        result.failures["no_route"] += 1
        return
    bucket.first_choice[wallets[0].provider.value] += 1
    elapsed_ms = 0
    for i, wallet in enumerate(wallets):
        at = payment.at + timedelta(milliseconds=elapsed_ms)
        attempt = world.attempt(payment, wallet, payment.hour + elapsed_ms / 3_600_000)
        elapsed_ms += attempt.latency_ms
        result.attempts += 1
        result.attempts_by_provider[wallet.provider.value] += 1
        against = attempt.outcome.counts_against_provider
        if against is not None:
            policy.observe(
                HealthSample(
                    wallet.provider,
                    not against,
                    attempt.latency_ms,
                    at + timedelta(milliseconds=attempt.latency_ms),
                )
            )
        has_next = policy.fails_over and i + 1 < len(wallets)
        step = next_step(attempt.outcome, has_next_wallet=has_next)
        if step is NextStep.CONFIRM:
            result.confirmed += 1
            bucket.confirmed += 1
            result.fees_minor += attempt.fee.minor
            result.confirmed_by_provider[wallet.provider.value] += 1
            break
        if step is NextStep.FAIL_OVER:
            result.failovers += 1
            continue
        reason = attempt.outcome.reason
        result.failures[reason.value if reason is not None else step.value] += 1
        break
    result.time_to_final_ms += elapsed_ms


__all__ = ["PolicyResult", "SimulationResult", "simulate"]
