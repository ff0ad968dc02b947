"""The simulated world: synthetic payments and the providers' true behaviour.

Every random draw for a payment is made once, up front, from the scenario seed,
so every policy sees the same payers, balances, payer declines and provider
luck (common random numbers): differences between policies come from routing,
not from noise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Final

from attrs import frozen

from synccash.cli.simulate.scenario import Scenario
from synccash.core.fees import FeeBook, FeeSchedule, TransferKind, default_fee_book, transfer_kind
from synccash.core.fraud import KycTier, RiskAssessment, RiskSignals, assess
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import ProviderId

#: A prefix per network to mint valid synthetic MSISDNs.
_PREFIX: Final = {ProviderId.MTN: "24", ProviderId.TELECEL: "20", ProviderId.AIRTELTIGO: "27"}
_LATENCY_SPREAD: Final = 0.35  # log-normal sigma of answer times around the timeline median
_OUTAGE_LATENCY_SHARE: Final = 0.2  # a 503 during an outage comes back fast
#: A lost callback: the answer is learnt at the first status poll (ghana-domain.md §8: +10 s).
FIRST_POLL_MS: Final = 10_000
_CALLBACK_STREAM: Final = 0xCA11BAC  # callback draws come from their own stream (see payments)


@frozen
class SimPayment:
    """One synthetic payment and every random draw that decides its fate."""

    index: int
    hour: float
    at: datetime
    amount: Money
    wallets: tuple[Wallet, ...]  # what the merchant sends (balance only when known)
    balances: Mapping[ProviderId, Money]  # the wallets' true balances
    payee: Payee
    declines: bool  # the payer rejects (or ignores) the prompt
    luck: Mapping[ProviderId, float]  # uniform draw per provider: success if below the true rate
    latency_z: Mapping[ProviderId, float]  # standard normal draw per provider for the answer time
    callback_luck: Mapping[
        ProviderId, float
    ]  # uniform per provider: callback lost if below the rate
    risk: RiskAssessment
    seed: int


@frozen
class Attempt:
    """What one provider attempt did in the simulated world."""

    provider: ProviderId
    outcome: ProviderOutcome
    latency_ms: int
    fee: Money


def fee_book_for(scenario: Scenario) -> FeeBook:
    """The seed fee book, with the scenario's overrides replacing whole schedules."""
    book = default_fee_book()
    if not scenario.fee_overrides:
        return book
    overrides = {(o.provider, o.kind): o.rule for o in scenario.fee_overrides}
    schedules = [
        FeeSchedule(s.provider, s.kind, (overrides.pop((s.provider, s.kind)),))
        if (s.provider, s.kind) in overrides
        else s
        for s in book.schedules
    ]
    schedules += [FeeSchedule(p, k, (rule,)) for (p, k), rule in overrides.items()]
    platform = None  # the seed book has no platform fee
    return FeeBook(schedules, book.levies, platform)


class World:
    """Generates the payments of a scenario and answers provider attempts truthfully."""

    def __init__(self, scenario: Scenario, fees: FeeBook) -> None:
        self.scenario = scenario
        self.fees = fees

    def payments(self, count: int, seed: int) -> Iterator[SimPayment]:
        """`count` payments spread evenly over the scenario's hours, in time order."""
        rng = random.Random(seed)
        # A stream of its own, so scenarios without callback loss draw exactly as before.
        callbacks = random.Random(seed ^ _CALLBACK_STREAM)
        step = self.scenario.hours / count
        for index in range(count):
            hour = (index + rng.random()) * step
            yield self._payment(index, hour, rng, callbacks)

    def _payment(
        self, index: int, hour: float, rng: random.Random, callbacks: random.Random
    ) -> SimPayment:
        sc = self.scenario
        amount = _lognormal_money(rng, sc.amounts.median, sc.amounts.sigma)
        amount = min(max(amount, sc.amounts.minimum), sc.amounts.maximum)
        wallets: list[Wallet] = []
        balances: dict[ProviderId, Money] = {}
        for mix in sc.wallets:
            if rng.random() >= mix.holders:
                continue
            balance = _lognormal_money(rng, mix.balance_median, mix.balance_sigma)
            known = rng.random() < mix.balance_known
            wallets.append(
                Wallet(mix.provider, _msisdn(mix.provider, rng), balance if known else None)
            )
            balances[mix.provider] = balance
        if not wallets:  # everyone who pays holds at least one wallet
            mix = max(sc.wallets, key=lambda m: m.holders)
            balance = _lognormal_money(rng, mix.balance_median, mix.balance_sigma)
            wallets.append(Wallet(mix.provider, _msisdn(mix.provider, rng), None))
            balances[mix.provider] = balance
        rng.shuffle(wallets)  # the merchant's order of wallets carries no information
        if rng.random() < sc.merchant_account_share:
            payee = Payee(merchant_account=f"merchant-{index % 7}")
        else:
            nets, weights = zip(*sc.payee_networks.items(), strict=True)
            payee = Payee(msisdn=_msisdn(rng.choices(nets, weights)[0], rng))
        signals = RiskSignals(
            payer_count_1h=rng.choice((0, 0, 0, 1, 1, 2, 3)),
            payer_count_24h=rng.choice((0, 1, 2, 3, 5, 8)),
            payee_known_to_payer=rng.random() < 0.6,
            kyc_tier=rng.choices(tuple(KycTier), (0.2, 0.5, 0.3))[0],
        )
        return SimPayment(
            index=index,
            hour=hour,
            at=sc.at(hour),
            amount=amount,
            wallets=tuple(wallets),
            balances=balances,
            payee=payee,
            declines=rng.random() < sc.payer_decline_rate,
            luck={p: rng.random() for p in ProviderId},
            latency_z={p: rng.gauss(0.0, 1.0) for p in ProviderId},
            callback_luck={p: callbacks.random() for p in ProviderId},
            risk=assess(amount, signals),
            seed=rng.getrandbits(32),
        )

    def balance_mix(self, provider: ProviderId) -> tuple[int, float]:
        """The median balance (pesewas) and log-normal sigma of wallets at `provider`."""
        mix = next(m for m in self.scenario.wallets if m.provider is provider)
        return mix.balance_median.minor, mix.balance_sigma

    def kind(self, provider: ProviderId, payee: Payee) -> TransferKind:
        """The transfer kind of paying `payee` from a wallet at `provider`."""
        return transfer_kind(
            provider,
            payee.msisdn.network_hint if payee.msisdn is not None else None,
            merchant_payment=payee.merchant_account is not None,
        )

    def fee(self, payment: SimPayment, provider: ProviderId) -> Money:
        """The payer's total fee for this payment from a wallet at `provider`."""
        quote = self.fees.quote(
            provider=provider,
            kind=self.kind(provider, payment.payee),
            amount=payment.amount,
            on=payment.at.date(),
        )
        return quote.total_fee

    def attempt(self, payment: SimPayment, wallet: Wallet, hour: float) -> Attempt:
        """Send one attempt to the wallet's provider; the true rates decide what happens."""
        provider = wallet.provider
        truth = self.scenario.providers[provider]
        median = truth.latency_ms.at(hour)
        latency = max(1, round(median * math.exp(_LATENCY_SPREAD * payment.latency_z[provider])))
        fee = self.fee(payment, provider)
        if truth.down(hour):  # the submit itself is refused: no callback involved
            outcome = ProviderOutcome.failed(FailureReason.PROVIDER_UNAVAILABLE, "OUTAGE")
            return Attempt(provider, outcome, max(1, round(latency * _OUTAGE_LATENCY_SHARE)), fee)
        if payment.callback_luck[provider] < truth.callback_loss.at(hour):
            latency = max(latency, FIRST_POLL_MS)  # no callback: the first status poll answers
        if payment.luck[provider] >= truth.success.at(hour):
            outcome = ProviderOutcome.failed(FailureReason.PROVIDER_UNAVAILABLE, "PROVIDER_ERROR")
            return Attempt(provider, outcome, latency, fee)
        if payment.balances[provider] < payment.amount + fee:
            outcome = ProviderOutcome.failed(FailureReason.INSUFFICIENT_FUNDS, "NOT_ENOUGH_FUNDS")
            return Attempt(provider, outcome, latency, fee)
        if payment.declines:
            outcome = ProviderOutcome.failed(FailureReason.REJECTED_BY_PAYER, "REJECTED")
            return Attempt(provider, outcome, latency, fee)
        return Attempt(provider, ProviderOutcome.succeeded(f"sim-{payment.index}"), latency, fee)


def _lognormal_money(rng: random.Random, median: Money, sigma: float) -> Money:
    minor = round(median.minor * math.exp(sigma * rng.gauss(0.0, 1.0)))
    return Money(max(minor, 1))


def _msisdn(provider: ProviderId, rng: random.Random) -> Msisdn:
    return Msisdn("233" + _PREFIX[provider] + f"{rng.randrange(10_000_000):07d}")
