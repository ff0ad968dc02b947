"""Routing policies under comparison: SyncCash (the real core Router) and naive baselines.

Each policy orders the payer's wallets for a payment; the engine walks that
order, failing over only where the policy allows it *and* the core's
`retry.next_step` says a failover is safe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from synccash.cli.simulate.world import SimPayment, World
from synccash.core.payment import Wallet
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, HealthTracker
from synccash.core.routing import Router, RoutingRequest


class Policy(Protocol):
    """How one strategy picks wallets, and what it learns from outcomes."""

    name: str
    fails_over: bool

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:
        """Wallets to try, in order (empty: the payment cannot be routed)."""
        ...

    def observe(self, sample: HealthSample) -> None:
        """Learn from one provider outcome (customer declines are never passed)."""
        ...


class SyncCashPolicy:
    """The product: core Router over a HealthTracker fed with every outcome (it learns)."""

    name = "synccash"
    fails_over = True

    def __init__(self, router: Router, tracker: HealthTracker | None = None) -> None:
        self.router = router
        self.tracker = tracker if tracker is not None else HealthTracker()

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:
        """The router's ranked candidates (hard filters, score, seeded exploration)."""
        request = RoutingRequest(
            amount=payment.amount, wallets=payment.wallets, payee=payment.payee, on=now.date()
        )
        decision = self.router.decide(request, self.tracker.snapshot(now), payment.seed)
        return tuple(c.wallet for c in decision.candidates)

    def observe(self, sample: HealthSample) -> None:
        """Feed the tracker, exactly as the lifecycle does with real outcomes."""
        self.tracker.record(sample)


class CheapestOnly:
    """Always the wallet with the lowest fee (ties: the payer's order); one attempt."""

    name = "cheapest-only"
    fails_over = False

    def __init__(self, world: World) -> None:
        self.world = world

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:  # noqa: ARG002
        """The wallets sorted by fee."""
        return tuple(
            sorted(payment.wallets, key=lambda w: self.world.fee(payment, w.provider).minor)
        )[:1]

    def observe(self, sample: HealthSample) -> None:
        """Learns nothing."""


class CheapestWithFailover(CheapestOnly):
    """Cheapest first, then the next cheapest on a failure the core allows to fail over.

    Not one of the brief's baselines, but the fair one: it isolates what health-aware
    routing adds on top of plain failover.
    """

    name = "cheapest+failover"
    fails_over = True

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:  # noqa: ARG002
        """Every wallet, sorted by fee."""
        return tuple(
            sorted(payment.wallets, key=lambda w: self.world.fee(payment, w.provider).minor)
        )


class MtnOnly:
    """Only the payer's MTN wallet (what a single-provider integration does)."""

    name = "mtn-only"
    fails_over = False

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:  # noqa: ARG002
        """The MTN wallet, if the payer has one."""
        return tuple(w for w in payment.wallets if w.provider is ProviderId.MTN)[:1]

    def observe(self, sample: HealthSample) -> None:
        """Learns nothing."""


class RoundRobin:
    """Rotates providers payment by payment among the payer's wallets; one attempt."""

    name = "round-robin"
    fails_over = False

    def __init__(self) -> None:
        self._next = 0

    def route(self, payment: SimPayment, now: datetime) -> tuple[Wallet, ...]:  # noqa: ARG002
        """The wallet at the next provider in the rotation that the payer holds."""
        order = list(ProviderId)
        for step in range(len(order)):
            provider = order[(self._next + step) % len(order)]
            wallet = next((w for w in payment.wallets if w.provider is provider), None)
            if wallet is not None:
                self._next = (self._next + step + 1) % len(order)
                return (wallet,)
        return ()

    def observe(self, sample: HealthSample) -> None:
        """Learns nothing."""


def default_policies(world: World) -> list[Policy]:
    """SyncCash and the baselines, SyncCash first."""
    return [
        SyncCashPolicy(Router(fee_book=world.fees)),
        CheapestOnly(world),
        MtnOnly(),
        RoundRobin(),
        CheapestWithFailover(world),
    ]
