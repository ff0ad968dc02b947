"""Routing policies under comparison: SyncCash (the real core Router), an oracle, baselines.

Each policy orders the payer's wallets for a payment; the engine walks that
order, failing over only where the policy allows it *and* the core's
`retry.next_step` says a failover is safe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from attrs import frozen

from synccash.cli.simulate.world import Attempt, SimPayment, World
from synccash.core.balances import FundsTracker
from synccash.core.chain import ChainStep, step_index
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import Wallet
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthTracker, earliest_retry, sample_for
from synccash.core.routing import Router, RoutingPolicy, RoutingRequest


@frozen
class Route:
    """Wallets to try in order, each with the policy's success prediction (None: none made).

    `retry_at`: nothing can be routed now, but a circuit lets probes through then.
    """

    wallets: tuple[Wallet, ...]
    predictions: tuple[float, ...] | None = None
    retry_at: datetime | None = None


class Policy(Protocol):
    """How one strategy picks wallets, and what it learns from outcomes."""

    name: str
    fails_over: bool

    def route(self, payment: SimPayment, now: datetime) -> Route:
        """Wallets to try, in order (empty: the payment cannot be routed)."""
        ...

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Learn from one attempt's answer."""
        ...


class SyncCashPolicy:
    """The product: the core Router over a HealthTracker and FundsTracker fed with outcomes."""

    name = "synccash"
    fails_over = True

    def __init__(self, router: Router, world: World, tracker: HealthTracker | None = None) -> None:
        self.router = router
        self.world = world
        self.tracker = tracker if tracker is not None else HealthTracker()
        self.funds = FundsTracker()

    def route(self, payment: SimPayment, now: datetime) -> Route:
        """The router's ranked candidates (filters, expected-cost order, bounded exploration)."""
        request = RoutingRequest(
            amount=payment.amount, wallets=payment.wallets, payee=payment.payee, on=now.date()
        )
        health = self.tracker.snapshot(now)
        decision = self.router.decide(request, health, payment.seed, self.funds.snapshot())
        wallets = tuple(c.wallet for c in decision.candidates)
        retry_at = None
        if not wallets and any(r.code == "circuit_open" for r in decision.rejected):
            retry_at = earliest_retry(health[w.provider] for w in payment.wallets)
        predictions = tuple(c.success_probability for c in decision.candidates)
        return Route(wallets, predictions, retry_at)

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Feed the trackers, as the lifecycle does with real answers."""
        kind = self.world.kind(wallet.provider, payment.payee)
        sample = sample_for(wallet.provider, attempt.outcome, attempt.latency_ms, at, kind)
        if sample is not None:
            self.tracker.record(sample)
        if wallet.balance is None:
            enough = _funds_answer(attempt)
            if enough is not None:
                self.funds.record(wallet.provider, payment.amount.minor, enough=enough)


def _funds_answer(attempt: Attempt) -> bool | None:
    """What an answer says about the wallet's balance (None: the check was not reached)."""
    outcome = attempt.outcome
    if outcome.kind is OutcomeKind.SUCCEEDED:
        return True
    if outcome.reason is FailureReason.INSUFFICIENT_FUNDS:
        return False
    if outcome.reason is FailureReason.REJECTED_BY_PAYER:
        return True
    return None


class OraclePolicy:
    """The headroom: SyncCash's ordering rule fed with the world's true rates.

    It knows each provider's true success rate at the moment (0 in an outage) and, for a
    wallet of unknown balance, the true chance that the scenario's balance distribution
    covers amount + fee; it does not know a payer's own balance or decision.
    """

    name = "oracle"
    fails_over = True

    def __init__(self, world: World, policy: RoutingPolicy | None = None) -> None:
        self.world = world
        self.policy = policy if policy is not None else RoutingPolicy()

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """Wallets by ascending `fee + λ / true success`, those worth a prompt."""
        lam = self.policy.costs.prompt_cost_minor
        penalty = self.policy.costs.penalty(payment.amount.minor)
        scored: list[tuple[float, int, Wallet, float]] = []
        for i, wallet in enumerate(payment.wallets):
            fee = self.world.fee(payment, wallet.provider).minor
            if wallet.balance is not None and wallet.balance.minor < payment.amount.minor + fee:
                continue
            success = self._true_success(payment, wallet, fee)
            index = step_index(ChainStep(success, fee), lam)
            if index < penalty:
                scored.append((index, i, wallet, success))
        scored.sort(key=lambda item: (item[0], item[1]))
        return Route(tuple(s[2] for s in scored), tuple(s[3] for s in scored))

    def _true_success(self, payment: SimPayment, wallet: Wallet, fee_minor: int) -> float:
        truth = self.world.scenario.providers[wallet.provider]
        if truth.down(payment.hour):
            return 0.0
        technical = truth.success.at(payment.hour)
        if wallet.balance is not None:
            return technical
        return technical * _cover_probability(
            self.world.balance_mix(wallet.provider), payment.amount.minor + fee_minor
        )

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Knows everything already."""


def _cover_probability(mix: tuple[int, float], needed_minor: int) -> float:
    """P(a log-normal balance with this median and sigma is at least `needed_minor`)."""
    median, sigma = mix
    if sigma <= 0:
        return 1.0 if median >= needed_minor else 0.0
    z = (math.log(needed_minor) - math.log(median)) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2.0))


class CheapestOnly:
    """Always the wallet with the lowest fee (ties: the payer's order); one attempt."""

    name = "cheapest-only"
    fails_over = False

    def __init__(self, world: World) -> None:
        self.world = world

    def _by_fee(self, payment: SimPayment) -> tuple[Wallet, ...]:
        return tuple(
            sorted(payment.wallets, key=lambda w: self.world.fee(payment, w.provider).minor)
        )

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """The cheapest wallet."""
        return Route(self._by_fee(payment)[:1])

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Learns nothing."""


class CheapestWithFailover(CheapestOnly):
    """Cheapest first, then the next cheapest on a failure the core allows to fail over.

    The fair baseline: it isolates what health- and cost-aware routing adds on top of
    plain failover.
    """

    name = "cheapest+failover"
    fails_over = True

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """Every wallet, sorted by fee."""
        return Route(self._by_fee(payment))


class CheapestWithFailoverAndBalances(CheapestOnly):
    """cheapest+failover that also skips wallets whose known balance cannot cover the payment.

    The static rule with the one piece of knowledge that needs no learning: the strongest
    baseline for the prompts SyncCash saves.
    """

    name = "cheapest+failover+balance"
    fails_over = True

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """Every wallet that may cover the payment, sorted by fee."""
        return Route(tuple(w for w in self._by_fee(payment) if self._may_cover(payment, w)))

    def _may_cover(self, payment: SimPayment, wallet: Wallet) -> bool:
        if wallet.balance is None:
            return True
        fee = self.world.fee(payment, wallet.provider).minor
        return wallet.balance.minor >= payment.amount.minor + fee


class MtnOnly:
    """Only the payer's MTN wallet (what a single-provider integration does)."""

    name = "mtn-only"
    fails_over = False

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """The MTN wallet, if the payer has one."""
        return Route(tuple(w for w in payment.wallets if w.provider is ProviderId.MTN)[:1])

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Learns nothing."""


class RoundRobin:
    """Rotates providers payment by payment among the payer's wallets; one attempt."""

    name = "round-robin"
    fails_over = False

    def __init__(self) -> None:
        self._next = 0

    def route(self, payment: SimPayment, now: datetime) -> Route:  # noqa: ARG002
        """The wallet at the next provider in the rotation that the payer holds."""
        order = list(ProviderId)
        for step in range(len(order)):
            provider = order[(self._next + step) % len(order)]
            wallet = next((w for w in payment.wallets if w.provider is provider), None)
            if wallet is not None:
                self._next = (self._next + step + 1) % len(order)
                return Route((wallet,))
        return Route(())

    def observe(self, payment: SimPayment, wallet: Wallet, attempt: Attempt, at: datetime) -> None:
        """Learns nothing."""


BASELINES: tuple[str, ...] = (
    "cheapest-only",
    "mtn-only",
    "round-robin",
    "cheapest+failover",
    "cheapest+failover+balance",
)


def default_policies(world: World) -> list[Policy]:
    """SyncCash, the baselines and the oracle, SyncCash first."""
    return [
        SyncCashPolicy(Router(fee_book=world.fees), world),
        CheapestOnly(world),
        MtnOnly(),
        RoundRobin(),
        CheapestWithFailover(world),
        CheapestWithFailoverAndBalances(world),
        OraclePolicy(world),
    ]


def prediction_map(route: Route) -> Mapping[ProviderId, float]:
    """Provider -> the policy's predicted attempt success, for calibration."""
    if route.predictions is None:
        return {}
    return {w.provider: p for w, p in zip(route.wallets, route.predictions, strict=True)}
