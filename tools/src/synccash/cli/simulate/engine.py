"""Replay synthetic payments through each policy with the core's failover rules.

For every payment (in time order) and every policy: ask the policy for its wallet
order, send attempts into the simulated world, feed the answers back to the policy
(SyncCash's trackers learn; the others ignore them), and walk to the next wallet only
when `synccash.core.retry.next_step` says FAIL_OVER. When every wallet's circuit is
open, SyncCash's payment waits for the first probe (as the lifecycle does), up to
`WAIT_LIMIT`.

Prompts are the attempts the payer saw: every attempt except those a provider refused
outright (an outage's 503 never reaches the payer's phone).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import define, field, frozen

from synccash.cli.simulate.policies import Policy, Route, default_policies, prediction_map
from synccash.cli.simulate.report import Report, report
from synccash.cli.simulate.scenario import Scenario
from synccash.cli.simulate.world import Attempt, SimPayment, World, fee_book_for
from synccash.core.fraud import RiskDecision
from synccash.core.money import Money
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import Wallet
from synccash.core.retry import NextStep, next_step
from synccash.core.routing import RoutingCosts

#: How long a payment may wait for a circuit to let probes through (the approval window).
WAIT_LIMIT: Final = timedelta(minutes=5)
_CALIBRATION_BINS: Final = 10


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
class Calibration:
    """How well a policy's success predictions matched what happened (Brier score + table)."""

    count: int = 0
    squared_error: float = 0.0
    predicted: list[float] = field(factory=lambda: [0.0] * _CALIBRATION_BINS)
    happened: list[int] = field(factory=lambda: [0] * _CALIBRATION_BINS)
    counts: list[int] = field(factory=lambda: [0] * _CALIBRATION_BINS)

    def add(self, predicted: float, succeeded: bool) -> None:
        """One attempt: what was predicted and whether it succeeded."""
        outcome = 1.0 if succeeded else 0.0
        self.count += 1
        self.squared_error += (predicted - outcome) ** 2
        i = min(int(predicted * _CALIBRATION_BINS), _CALIBRATION_BINS - 1)
        self.predicted[i] += predicted
        self.happened[i] += int(succeeded)
        self.counts[i] += 1

    @property
    def brier(self) -> float | None:
        """Mean squared error of the predictions (0 is perfect; None: no predictions)."""
        return self.squared_error / self.count if self.count else None

    @property
    def base_rate_brier(self) -> float | None:
        """The Brier score of always predicting the overall success rate (for comparison)."""
        if not self.count:
            return None
        rate = sum(self.happened) / self.count
        return rate * (1.0 - rate)

    def explain(self) -> dict[str, Any] | None:
        """JSON-ready: Brier score, the base-rate Brier and the reliability table."""
        if not self.count:
            return None
        return {
            "attempts": self.count,
            "brier": round(self.squared_error / self.count, 5),
            "base_rate_brier": round(self.base_rate_brier or 0.0, 5),
            "table": [
                {
                    "predicted_from": i / _CALIBRATION_BINS,
                    "attempts": n,
                    "mean_predicted": round(self.predicted[i] / n, 4),
                    "observed": round(self.happened[i] / n, 4),
                }
                for i, n in enumerate(self.counts)
                if n
            ],
        }


@define
class PolicyResult:
    """Everything one policy did over the run."""

    name: str
    buckets: list[Bucket]
    payments: int = 0  # payments the risk rules let through
    blocked: int = 0
    confirmed: int = 0
    attempts: int = 0
    prompts: int = 0  # attempts the payer saw
    failovers: int = 0
    waited: int = 0  # payments that waited for a circuit's probe
    fees_minor: int = 0
    penalty_cost: float = 0.0  # failure penalties of the failed payments (pesewas-equivalent)
    time_to_final_ms: int = 0
    failures: Counter[str] = field(factory=Counter)
    attempts_by_provider: Counter[str] = field(factory=Counter)
    confirmed_by_provider: Counter[str] = field(factory=Counter)
    calibration: Calibration = field(factory=Calibration)

    @property
    def success_rate(self) -> float:
        """Confirmed / payments allowed by the risk rules."""
        return self.confirmed / self.payments if self.payments else 0.0

    def cost(self, costs: RoutingCosts) -> float:
        """The realised objective per payment: fees + λ x prompts + penalty x failed."""
        if not self.payments:
            return 0.0
        total = self.fees_minor + costs.prompt_cost_minor * self.prompts + self.penalty_cost
        return total / self.payments

    def explain(self, bucket_hours: float, costs: RoutingCosts) -> dict[str, Any]:
        """JSON-ready numbers (fees as decimal strings)."""
        return {
            "policy": self.name,
            "payments": self.payments,
            "blocked_by_risk": self.blocked,
            "confirmed": self.confirmed,
            "success_rate": round(self.success_rate, 6),
            "attempts": self.attempts,
            "prompts": self.prompts,
            "failovers": self.failovers,
            "waited_for_probe": self.waited,
            "fees_paid": Money(self.fees_minor).to_decimal_string(),
            "mean_fee_per_confirmed": (
                Money(round(self.fees_minor / self.confirmed)).to_decimal_string()
                if self.confirmed
                else None
            ),
            "mean_time_to_final_ms": (
                round(self.time_to_final_ms / self.payments) if self.payments else None
            ),
            "cost_per_payment_minor": round(self.cost(costs), 3),
            "calibration": self.calibration.explain(),
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
    costs: RoutingCosts = RoutingCosts()

    def by_name(self, name: str) -> PolicyResult:
        """The result of one policy."""
        return next(r for r in self.results if r.name == name)

    @property
    def report(self) -> Report:
        """Verdicts against each baseline, the oracle gap and the issue's target."""
        return report(self.results, self.costs)

    def explain(self) -> dict[str, Any]:
        """JSON-ready summary of the run."""
        return {
            "scenario": self.scenario.name,
            "payments": self.payments,
            "seed": self.seed,
            "hours": self.scenario.hours,
            "bucket_hours": self.bucket_hours,
            "costs": self.costs.explain(),
            "policies": [r.explain(self.bucket_hours, self.costs) for r in self.results],
            "report": self.report.explain(),
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
    costs = RoutingCosts()
    for payment in world.payments(count, run_seed):
        bucket = min(int(payment.hour / bucket_hours), n_buckets - 1)
        for policy, result in zip(chosen, results, strict=True):
            run = _Run(world, policy, result, result.buckets[bucket], payment)
            run.play(costs)
        if progress is not None and (payment.index + 1) % 100 == 0:
            progress(payment.index + 1)
    if progress is not None:
        progress(count)
    return SimulationResult(scenario, count, run_seed, bucket_hours, tuple(results), costs)


@frozen
class SeedSweep:
    """The same scenario over several seeds: each run, and every policy pooled over them."""

    runs: tuple[SimulationResult, ...]

    @property
    def pooled(self) -> tuple[PolicyResult, ...]:
        """Each policy's counts summed over the runs (success = all confirmed / all payments)."""
        first = self.runs[0]
        pooled = []
        for i, template in enumerate(first.results):
            total = PolicyResult(template.name, [])
            for run in self.runs:
                r = run.results[i]
                total.payments += r.payments
                total.confirmed += r.confirmed
                total.attempts += r.attempts
                total.prompts += r.prompts
                total.failovers += r.failovers
                total.waited += r.waited
                total.fees_minor += r.fees_minor
                total.penalty_cost += r.penalty_cost
                total.time_to_final_ms += r.time_to_final_ms
                total.failures.update(r.failures)
            pooled.append(total)
        return tuple(pooled)

    @property
    def report(self) -> Report:
        """Verdicts, oracle gap and target on the pooled counts."""
        return report(self.pooled, self.runs[0].costs)

    def explain(self) -> dict[str, Any]:
        """JSON-ready: every run's report and the pooled one."""
        first = self.runs[0]
        return {
            "scenario": first.scenario.name,
            "payments_per_run": first.payments,
            "seeds": [run.seed for run in self.runs],
            "runs": [{"seed": run.seed, "report": run.report.explain()} for run in self.runs],
            "pooled": {
                "policies": [
                    {
                        "policy": r.name,
                        "payments": r.payments,
                        "success_rate": round(r.success_rate, 6),
                        "fees_paid": Money(r.fees_minor).to_decimal_string(),
                        "prompts": r.prompts,
                        "attempts": r.attempts,
                        "mean_time_to_final_ms": round(r.time_to_final_ms / r.payments)
                        if r.payments
                        else None,
                    }
                    for r in self.pooled
                ],
                "report": self.report.explain(),
            },
        }


def sweep(
    scenario: Scenario,
    *,
    seeds: int,
    payments: int | None = None,
    first_seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedSweep:
    """Run the scenario at `seeds` consecutive seeds from `first_seed` (default: its own)."""
    start = first_seed if first_seed is not None else scenario.seed
    runs = []
    for i in range(seeds):
        runs.append(simulate(scenario, payments=payments, seed=start + i))
        if progress is not None:
            progress(i + 1)
    return SeedSweep(tuple(runs))


@frozen
class _Run:
    """One payment through one policy."""

    world: World
    policy: Policy
    result: PolicyResult
    bucket: Bucket
    payment: SimPayment

    def play(self, costs: RoutingCosts) -> None:
        result, payment = self.result, self.payment
        if payment.risk.decision is RiskDecision.BLOCK:
            result.blocked += 1
            return
        result.payments += 1
        self.bucket.payments += 1
        route, waited_ms = self._route()
        if not route.wallets:
            result.failures["no_route"] += 1
            result.penalty_cost += costs.penalty(payment.amount.minor)
            result.time_to_final_ms += waited_ms
            return
        self.bucket.first_choice[route.wallets[0].provider.value] += 1
        confirmed, elapsed_ms = self._walk(route, waited_ms)
        if not confirmed:
            result.penalty_cost += costs.penalty(payment.amount.minor)
        result.time_to_final_ms += elapsed_ms

    def _route(self) -> tuple[Route, int]:
        """The policy's route; if every circuit is open, the route once a probe may go."""
        route = self.policy.route(self.payment, self.payment.at)
        retry_at = route.retry_at
        if route.wallets or retry_at is None or retry_at - self.payment.at > WAIT_LIMIT:
            return route, 0
        self.result.waited += 1
        waited_ms = int((retry_at - self.payment.at).total_seconds() * 1000)
        return self.policy.route(self.payment, retry_at), waited_ms

    def _walk(self, route: Route, start_ms: int) -> tuple[bool, int]:
        result, payment = self.result, self.payment
        predictions = prediction_map(route)
        elapsed_ms = start_ms
        for i, wallet in enumerate(route.wallets):
            attempt = self.world.attempt(payment, wallet, payment.hour + elapsed_ms / 3_600_000)
            elapsed_ms += attempt.latency_ms
            self._count(wallet, attempt, predictions.get(wallet.provider))
            self.policy.observe(payment, wallet, attempt, self._at(elapsed_ms))
            has_next = self.policy.fails_over and i + 1 < len(route.wallets)
            step = next_step(attempt.outcome, has_next_wallet=has_next)
            if step is NextStep.CONFIRM:
                result.confirmed += 1
                self.bucket.confirmed += 1
                result.fees_minor += attempt.fee.minor
                result.confirmed_by_provider[wallet.provider.value] += 1
                return True, elapsed_ms
            if step is NextStep.FAIL_OVER:
                result.failovers += 1
                continue
            reason = attempt.outcome.reason
            result.failures[reason.value if reason is not None else step.value] += 1
            return False, elapsed_ms
        return False, elapsed_ms  # pragma: no cover - the last wallet never fails over

    def _count(self, wallet: Wallet, attempt: Attempt, predicted: float | None) -> None:
        result = self.result
        result.attempts += 1
        result.attempts_by_provider[wallet.provider.value] += 1
        if attempt.outcome.provider_code != "OUTAGE":
            result.prompts += 1
        if predicted is not None:  # routing predicts provider + funds, not the payer's decision
            outcome = attempt.outcome
            got_through = outcome.kind is OutcomeKind.SUCCEEDED or (
                outcome.reason is FailureReason.REJECTED_BY_PAYER
            )
            result.calibration.add(predicted, got_through)

    def _at(self, elapsed_ms: int) -> datetime:
        return self.payment.at + timedelta(milliseconds=elapsed_ms)


__all__ = ["PolicyResult", "SeedSweep", "SimulationResult", "simulate", "sweep"]
