"""Honest verdicts: SyncCash against every baseline, the oracle's headroom, the target.

- Per baseline: SyncCash *dominates* it (no worse on success, fees and prompts, better
  on one), *is dominated* by it (the reverse), or *trades off* (better on some, worse on
  others), with the numbers.
- The oracle knows the true rates: how much of the gap between the best baseline and
  the oracle SyncCash closes, on the realised objective (fees + λ x prompts + penalty x
  failed payments, per payment). The share is only as meaningful as the gap is wide: the
  line always prints the three objectives themselves.
- Issue 21's target: success >= the best baseline's - 0.2 points, fees <= 1.02 x
  cheapest+failover's, prompts <= cheapest+failover's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from attrs import frozen

from synccash.cli.simulate.policies import BASELINES
from synccash.core.money import Money
from synccash.core.routing import RoutingCosts

if TYPE_CHECKING:
    from synccash.cli.simulate.engine import PolicyResult

FAIR_BASELINE: Final = "cheapest+failover"
SUCCESS_SLACK_POINTS: Final = 0.2
FEE_SLACK: Final = 0.02


@frozen
class Verdict:
    """SyncCash against one baseline."""

    baseline: str
    kind: str  # dominates | is dominated by | trades off with | ties
    success_points: float  # SyncCash minus baseline, percentage points
    fees_minor: int  # SyncCash minus baseline
    prompts: int  # SyncCash minus baseline

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"SyncCash {self.kind} {self.baseline}: success {self.success_points:+.2f} pts, "
            f"fees {_signed_ghs(self.fees_minor)} GHS, prompts {self.prompts:+d}"
        )

    def explain(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "baseline": self.baseline,
            "verdict": self.kind,
            "success_points": round(self.success_points, 3),
            "fees": _signed_ghs(self.fees_minor),
            "prompts": self.prompts,
        }


@frozen
class Target:
    """Issue 21's target on this run."""

    success_ok: bool
    fees_ok: bool
    prompts_ok: bool
    best_baseline: str
    success_gap_points: float  # SyncCash minus the best baseline
    fee_ratio: float  # SyncCash fees / cheapest+failover fees
    prompt_difference: int  # SyncCash minus cheapest+failover

    @property
    def met(self) -> bool:
        """All three parts hold."""
        return self.success_ok and self.fees_ok and self.prompts_ok

    def line(self) -> str:
        """One line for the terminal."""
        success = (
            f"success {self.success_gap_points:+.2f} pts vs {self.best_baseline} "
            f"({_ok(self.success_ok)}, needs >= -{SUCCESS_SLACK_POINTS})"
        )
        fees = (
            f"fees x{self.fee_ratio:.3f} of {FAIR_BASELINE} "
            f"({_ok(self.fees_ok)}, needs <= x{1 + FEE_SLACK:.2f})"
        )
        prompts = (
            f"prompts {self.prompt_difference:+d} vs {FAIR_BASELINE} "
            f"({_ok(self.prompts_ok)}, needs <= 0)"
        )
        parts = [success, fees, prompts]
        return f"target {'met' if self.met else 'NOT met'}: " + "; ".join(parts)

    def explain(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "met": self.met,
            "success_ok": self.success_ok,
            "fees_ok": self.fees_ok,
            "prompts_ok": self.prompts_ok,
            "best_baseline": self.best_baseline,
            "success_gap_points": round(self.success_gap_points, 3),
            "fee_ratio": round(self.fee_ratio, 4),
            "prompt_difference": self.prompt_difference,
        }


@frozen
class Report:
    """Everything the summary says, for the terminal and for --json."""

    verdicts: tuple[Verdict, ...]
    target: Target | None
    oracle_gap_closed: float | None  # share of (best baseline - oracle) cost SyncCash closes
    costs_per_payment: dict[str, float]

    def lines(self) -> list[str]:
        """The summary lines."""
        out = [v.line() for v in self.verdicts]
        if "oracle" in self.costs_per_payment and "synccash" in self.costs_per_payment:
            out.append(self._objective_line())
        if self.target is not None:
            out.append(self.target.line())
        return out

    def _objective_line(self) -> str:
        costs = self.costs_per_payment
        best = min((n for n in costs if n in BASELINES), key=costs.__getitem__)
        line = (
            f"objective (fees + λ x prompts + penalty x failed, pesewas per payment): "
            f"synccash {costs['synccash']:.2f}, best baseline {best} {costs[best]:.2f}, "
            f"oracle {costs['oracle']:.2f}"
        )
        if self.oracle_gap_closed is None:
            return line + "; no headroom between the best baseline and the oracle"
        return line + f"; SyncCash closes {100 * self.oracle_gap_closed:.0f}% of that gap"

    def explain(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "verdicts": [v.explain() for v in self.verdicts],
            "target": None if self.target is None else self.target.explain(),
            "oracle_gap_closed": None
            if self.oracle_gap_closed is None
            else round(self.oracle_gap_closed, 4),
            "cost_per_payment_minor": {k: round(v, 3) for k, v in self.costs_per_payment.items()},
        }


def report(results: Sequence[PolicyResult], costs: RoutingCosts) -> Report:
    """Compare SyncCash with each baseline present, the oracle and the target."""
    by_name = {r.name: r for r in results}
    ours = by_name.get("synccash")
    if ours is None:
        return Report((), None, None, {})
    baselines = [by_name[n] for n in BASELINES if n in by_name]
    verdicts = tuple(_verdict(ours, b) for b in baselines)
    per_payment = {r.name: r.cost(costs) for r in results}
    return Report(verdicts, _target(ours, baselines), _gap(per_payment), per_payment)


def _verdict(ours: PolicyResult, other: PolicyResult) -> Verdict:
    points = 100 * (ours.success_rate - other.success_rate)
    fees = ours.fees_minor - other.fees_minor
    prompts = ours.prompts - other.prompts
    better = (ours.success_rate > other.success_rate, fees < 0, prompts < 0)
    worse = (ours.success_rate < other.success_rate, fees > 0, prompts > 0)
    if any(better) and not any(worse):
        kind = "dominates"
    elif any(worse) and not any(better):
        kind = "is dominated by"
    elif any(better):
        kind = "trades off with"
    else:
        kind = "ties"
    return Verdict(other.name, kind, points, fees, prompts)


def _target(ours: PolicyResult, baselines: list[PolicyResult]) -> Target | None:
    fair = next((b for b in baselines if b.name == FAIR_BASELINE), None)
    if fair is None:
        return None
    best = max(baselines, key=lambda b: b.success_rate)
    gap = 100 * (ours.success_rate - best.success_rate)
    ratio = ours.fees_minor / fair.fees_minor if fair.fees_minor else float(ours.fees_minor > 0)
    return Target(
        success_ok=gap >= -SUCCESS_SLACK_POINTS - 1e-9,
        fees_ok=ours.fees_minor <= (1 + FEE_SLACK) * fair.fees_minor,
        prompts_ok=ours.prompts <= fair.prompts,
        best_baseline=best.name,
        success_gap_points=gap,
        fee_ratio=ratio if fair.fees_minor else 1.0,
        prompt_difference=ours.prompts - fair.prompts,
    )


def _gap(per_payment: dict[str, float]) -> float | None:
    if "oracle" not in per_payment or "synccash" not in per_payment:
        return None
    baseline_costs = [c for n, c in per_payment.items() if n in BASELINES]
    if not baseline_costs:
        return None
    best = min(baseline_costs)
    headroom = best - per_payment["oracle"]
    if headroom <= 0:
        return None
    return (best - per_payment["synccash"]) / headroom


def _ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


def _signed_ghs(minor: int) -> str:
    sign = "+" if minor >= 0 else "-"
    return sign + Money(abs(minor)).to_decimal_string()
