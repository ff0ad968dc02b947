"""The pure decision for one payment: fraud rules, fees and routing, with no I/O.

Used by the VALIDATING step, by route quotes and by the core benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from attrs import frozen
from synccash.core.routing import Router, RoutingDecision, RoutingRequest

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
    risk = assess(amount, signals, fraud_policy) if signals is not None else None
    sent_today = signals.payer_sum_24h if signals is not None else Money.zero(amount.currency)
    request = RoutingRequest(
        amount=amount,
        wallets=wallets,
        payee=payee,
        on=on,
        payer_sent_today=sent_today,
    )
    return Evaluation(risk, router.decide(request, health, seed))
