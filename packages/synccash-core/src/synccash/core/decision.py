"""The pure decision for one payment: fraud rules, fees and routing, with no I/O.

Used by the VALIDATING step, by route quotes and by the core benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from attrs import frozen

from synccash.core.fraud import (
    DEFAULT_FRAUD_POLICY,
    FraudPolicy,
    RiskAssessment,
    RiskSignals,
    assess,
)
from synccash.core.money import Money
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import ProviderId
from synccash.core.reliability import ProviderHealth
from synccash.core.routing import Router, RoutingDecision, RoutingRequest


@frozen
class Evaluation:
    """What the rules decided: the risk assessment and the ranked route."""

    risk: RiskAssessment | None
    routing: RoutingDecision


def evaluate(
    *,
    router: Router,
    amount: Money,
    wallets: tuple[Wallet, ...],
    payee: Payee,
    signals: RiskSignals | None,
    health: Mapping[ProviderId, ProviderHealth],
    seed: int,
    on: date,
    fraud_policy: FraudPolicy = DEFAULT_FRAUD_POLICY,
) -> Evaluation:
    """Run fraud (when signals are known) and routing for one payment."""
    if signals is None:
        risk = None
        sent_today = Money.zero(amount.currency)
    else:
        risk = assess(amount, signals, fraud_policy)
        sent_today = signals.payer_sum_24h
    request = RoutingRequest(amount, wallets, payee, on, (), _NOTHING, sent_today)
    return Evaluation(risk, router.decide(request, health, seed))


_NOTHING: frozenset[ProviderId] = frozenset()
