"""Two-leg transfers end to end on in-memory ports and the scripted fake provider."""

from __future__ import annotations

import pytest

from synccash.adapters.bootstrap import wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.core.commands import InitiatePayment
from synccash.core.fees import TransferKind
from synccash.core.ledger import provider_float, topup_entry
from synccash.core.money import Money
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import AttemptKind, AttemptStatus, PaymentKind, PaymentState
from synccash.core.providers import ProviderId
from synccash.core.reliability import SampleKind
from synccash.core.routing import Router, RoutingPolicy

PAYER = "0241234567"
PAYEE = "0551234567"  # an MTN number


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def gateway():
    return FakeProviderGateway()


FLOAT = Money(1_000_000)  # GHS 10,000 of float per network


async def _top_up(app, clock, provider=None):
    providers = [provider] if provider else list(ProviderId)
    entries = [topup_entry(f"topup-{p.value}-{clock.now()}", p, FLOAT) for p in providers]
    await app.ledger.post(entries, clock.now())


@pytest.fixture
async def app(clock, gateway):
    container = wire(
        clock=clock, gateway=gateway, router=Router(policy=RoutingPolicy(exploration_share=0.0))
    )
    await _top_up(container, clock)
    return container


async def _transfer(app, clock, *, max_rounds=80, until_waiting=False):
    result = await app.payments.initiate(
        InitiatePayment(
            merchant_id="m1",
            idempotency_key="k1",
            fingerprint="fp-1",
            amount="25.00",
            payer_msisdn=PAYER,
            payee_msisdn=PAYEE,
        )
    )
    for _ in range(max_rounds):
        await app.lifecycle.advance(result.payment.id)
        payment = await app.payments.get("m1", result.payment.id)
        if payment.next_action_at is None or (until_waiting and payment.failure_code):
            return payment
        clock.set(max(payment.next_action_at, clock.now()))
    return await app.payments.get("m1", result.payment.id)


def _legs(payment):
    return [(a.kind, a.status) for a in payment.attempts]


async def test_a_transfer_collects_then_credits_the_payee(app, clock, gateway):
    """CONFIRMED only after the payee's wallet is credited; the payee gets the whole amount."""
    payment = await _transfer(app, clock)

    assert (payment.kind, payment.state) == (PaymentKind.TRANSFER, PaymentState.CONFIRMED)
    assert _legs(payment) == [
        (AttemptKind.COLLECT, AttemptStatus.SUCCEEDED),
        (AttemptKind.DISBURSE, AttemptStatus.SUCCEEDED),
    ]
    paid = gateway.debits([AttemptKind.DISBURSE])
    assert [(c.provider, c.msisdn, c.amount_minor) for c in paid] == [
        (ProviderId.MTN, "233551234567", 2500)
    ]


async def test_a_failed_payout_leg_refunds_the_payer(app, clock, gateway):
    """The payee's wallet refuses: the payer is refunded and the payment ends REFUNDED."""
    gateway.script(PAYEE, Script.fails(FailureReason.NOT_ALLOWED, "PAYEE_BLOCKED"))
    payment = await _transfer(app, clock)

    assert (payment.state, payment.failure_code) == (PaymentState.REFUNDED, "payout_failed")
    assert _legs(payment) == [
        (AttemptKind.COLLECT, AttemptStatus.SUCCEEDED),
        (AttemptKind.DISBURSE, AttemptStatus.FAILED),
        (AttemptKind.REFUND, AttemptStatus.SUCCEEDED),
    ]
    refunds = gateway.debits([AttemptKind.REFUND])
    assert [(r.msisdn, r.amount_minor) for r in refunds] == [("233241234567", 2500)]
    assert gateway.debits([AttemptKind.DISBURSE]) == []


async def test_an_unknown_payout_leg_is_polled_to_the_end_and_never_compensated(
    app, clock, gateway
):
    """Timeouts on the payout are reconciled by status queries; it confirms, no refund."""
    gateway.script(
        PAYEE,
        Script(
            submit=(ProviderOutcome.unknown("ReadTimeout"),),
            status=(
                ProviderOutcome.unknown("500"),
                ProviderOutcome.pending("PENDING"),
                ProviderOutcome.succeeded("txn-9", "SUCCESSFUL"),
            ),
        ),
    )
    payment = await _transfer(app, clock)

    assert payment.state == PaymentState.CONFIRMED
    payouts = [a for a in payment.attempts if a.kind is AttemptKind.DISBURSE]
    assert (len(payouts), payouts[0].submit_count) == (1, 1)
    assert gateway.debits([AttemptKind.REFUND]) == []


async def test_a_payout_leg_to_a_ported_payee_goes_to_its_home_network(app, clock, gateway):
    """payee_not_found on the prefix network: the lookup finds the home network, which pays."""
    gateway.ported[f"233{PAYEE[1:]}"] = ProviderId.TELECEL
    payment = await _transfer(app, clock)

    payouts = [(a.provider, a.status) for a in payment.attempts if a.kind is AttemptKind.DISBURSE]
    assert payment.state == PaymentState.CONFIRMED
    assert payouts == [
        (ProviderId.MTN, AttemptStatus.FAILED),
        (ProviderId.TELECEL, AttemptStatus.SUCCEEDED),
    ]
    assert any(e.type == "payment.wallet_resolved" for e in payment.events)


async def test_a_payout_leg_waits_for_float_and_goes_on_after_a_top_up(clock, gateway):
    """Our MTN float is empty: the payer paid, the payout waits (float_insufficient), then pays."""
    app = wire(clock=clock, gateway=gateway)
    waiting = await _transfer(app, clock, until_waiting=True)
    assert (
        waiting.state,
        waiting.failure_code,
        len(waiting.attempts),
    ) == (PaymentState.PROCESSING, "float_insufficient", 1)
    assert [e.type for e in waiting.events].count("payment.waiting") == 1

    await _top_up(app, clock, ProviderId.MTN)
    clock.set(waiting.next_action_at)
    await app.lifecycle.advance(waiting.id)
    for _ in range(20):
        payment = await app.payments.get("m1", waiting.id)
        if payment.next_action_at is None:
            break
        clock.set(max(payment.next_action_at, clock.now()))
        await app.lifecycle.advance(waiting.id)

    assert (payment.state, payment.failure_code) == (PaymentState.CONFIRMED, None)
    left = await app.ledger.balance(provider_float(ProviderId.MTN))
    assert Money(FLOAT.minor - 2500) == left


class _RecordedHealth:
    """A ProviderHealthStore that keeps every sample (and knows nothing yet)."""

    def __init__(self) -> None:
        self.samples = []

    async def record(self, sample):
        self.samples.append(sample)

    async def snapshot(self, now):
        return {}


async def test_an_accepted_submit_and_a_confirmed_status_are_healthy_samples(clock, gateway):
    """The payer leg's accepted submit and its confirmed status both count for MTN's health."""
    health = _RecordedHealth()
    app = wire(clock=clock, gateway=gateway, health=health)
    await _top_up(app, clock)
    await _transfer(app, clock)

    kinds = [(s.provider, s.kind, s.transfer) for s in health.samples]
    assert kinds == [
        (ProviderId.MTN, SampleKind.ACCEPTED, None),
        (ProviderId.MTN, SampleKind.CONFIRMED, None),
        (ProviderId.MTN, SampleKind.ACCEPTED, TransferKind.DISBURSEMENT),
        (ProviderId.MTN, SampleKind.CONFIRMED, TransferKind.DISBURSEMENT),
    ]
