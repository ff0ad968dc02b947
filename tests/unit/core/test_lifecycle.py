"""The whole payment lifecycle on in-memory ports and the scripted fake provider."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from synccash.adapters.bootstrap import wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.core.commands import InitiatePayment, WalletInput
from synccash.core.errors import (
    AmountOutOfRange,
    IdempotencyKeyReused,
    InvalidMsisdn,
    PaymentNotCancellable,
    PaymentNotFound,
    PaymentNotRefundable,
)
from synccash.core.ledger import topup_entry
from synccash.core.money import Money
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import AttemptKind, AttemptStatus, PaymentState
from synccash.core.ports import Task, TaskKind
from synccash.core.providers import ProviderId
from synccash.core.routing import Router, RoutingPolicy

MTN = "0241234567"
TELECEL = "0201234567"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def gateway():
    return FakeProviderGateway()


@pytest.fixture
def app(clock, gateway):
    # No exploration: the router's choice is deterministic (Telecel's free P2P ranks first).
    router = Router(policy=RoutingPolicy(exploration_share=0.0))
    return wire(clock=clock, gateway=gateway, router=router)


def _cmd(key="k1", amount="25.00", wallets=(), **kw):
    payee = kw.pop("payee", None)
    return InitiatePayment(
        merchant_id=kw.pop("merchant_id", "m1"),
        idempotency_key=key,
        fingerprint=kw.pop("fingerprint", f"fp-{key}-{amount}"),
        amount=amount,
        payer_msisdn=kw.pop("payer", MTN),
        wallets=wallets,
        # a merchant-account payee: one COLLECT leg (transfers: test_lifecycle_legs.py)
        payee_msisdn=payee,
        payee_account=None if payee else "shop-1",
        **kw,
    )


async def _fund_floats(app, clock):
    """Our disbursement float on every network (a transfer's payout leg draws on it)."""
    entries = [topup_entry(f"topup-{p.value}", p, Money(10_000_000)) for p in ProviderId]
    await app.ledger.post(entries, clock.now())


async def _run(app, clock, payment_id, *, max_rounds=60):
    """Advance the payment, moving the clock to each next action, until it settles or waits forever."""
    for _ in range(max_rounds):
        await app.lifecycle.advance(payment_id)
        payment = await app.payments.get("m1", payment_id)
        if payment.next_action_at is None:
            return payment
        if payment.next_action_at > clock.now():
            clock.set(payment.next_action_at)
    return await app.payments.get("m1", payment_id)


async def test_success_on_first_wallet(app, clock, gateway):
    """A plain payment is validated, routed, sent, polled and CONFIRMED with one debit."""
    result = await app.payments.initiate(_cmd())
    assert result.payment.state is PaymentState.INITIATED
    payment = await _run(app, clock, result.payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert payment.provider is ProviderId.MTN
    assert len(gateway.debits()) == 1
    assert gateway.debits()[0].amount_minor == 2500
    types = [e.type for e in payment.events]
    assert types[:4] == [
        "payment.initiated",
        "payment.validating",
        "payment.pending",
        "attempt.created",
    ]
    assert types[-1] == "payment.confirmed"
    assert payment.routing is not None
    assert payment.risk is not None
    assert payment.fee_quote is not None


async def test_insufficient_funds_fails_over_to_next_wallet(app, clock, gateway):
    """A definitive non-payer failure on wallet 1 moves to wallet 2, which succeeds."""
    gateway.script(TELECEL, Script.fails(FailureReason.INSUFFICIENT_FUNDS, "NOT_ENOUGH_FUNDS"))
    wallets = (WalletInput("mtn", MTN), WalletInput("telecel", TELECEL))
    # a wallet payee: Telecel's free P2P ranks it first (a transfer; its payout leg follows)
    await _fund_floats(app, clock)
    result = await app.payments.initiate(_cmd(wallets=wallets, payee="0551234567"))
    payment = await _run(app, clock, result.payment.id)
    collects = [a for a in payment.attempts if a.kind is AttemptKind.COLLECT]
    assert payment.state is PaymentState.CONFIRMED
    assert [a.provider for a in collects] == [ProviderId.TELECEL, ProviderId.MTN]
    assert [a.status for a in collects] == [AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]
    assert [d.provider for d in gateway.debits()] == [ProviderId.MTN]
    assert any(
        e.type == "payment.pending" and e.data.get("failed_provider") == "telecel"
        for e in payment.events
    )


async def test_payer_rejection_fails_without_failover(app, clock, gateway):
    """The payer's own decision ends the payment: no second wallet is prompted."""
    for number in (MTN, TELECEL):
        gateway.script(number, Script.fails(FailureReason.REJECTED_BY_PAYER, "APPROVAL_REJECTED"))
    wallets = (WalletInput("mtn", MTN), WalletInput("telecel", TELECEL))
    payment = await _run(
        app, clock, (await app.payments.initiate(_cmd(wallets=wallets))).payment.id
    )
    assert payment.state is PaymentState.FAILED
    assert payment.failure_code == "rejected_by_payer"
    assert len(payment.attempts) == 1
    assert len({r.msisdn.e164 for r in gateway.submits}) == 1
    assert gateway.debits() == []


async def test_unknown_outcome_is_reconciled_by_polling_never_failed_over(app, clock, gateway):
    """A timeout after submit is reconciled with status queries on the same provider."""
    script = Script(
        submit=(ProviderOutcome.unknown("ReadTimeout"),),
        status=(
            ProviderOutcome.unknown("500"),
            ProviderOutcome.pending("PENDING"),
            ProviderOutcome.succeeded("txn-9", "SUCCESSFUL"),
        ),
    )
    gateway.script(MTN, script)
    gateway.script(TELECEL, script)
    wallets = (WalletInput("mtn", MTN), WalletInput("telecel", TELECEL))
    payment = await _run(
        app, clock, (await app.payments.initiate(_cmd(wallets=wallets))).payment.id
    )
    assert payment.state is PaymentState.CONFIRMED
    assert len(payment.attempts) == 1
    assert len({r.provider for r in gateway.submits}) == 1
    assert len(gateway.status_calls) == 3
    assert payment.attempts[0].provider_transaction_id == "txn-9"


async def test_transient_submit_is_resent_with_the_same_reference(app, clock, gateway):
    """429/connection refused: the same reference goes out again, and one debit results."""
    gateway.script(
        MTN,
        Script(
            submit=(
                ProviderOutcome.transient("429", retry_after_seconds=2),
                ProviderOutcome.pending("ACCEPTED"),
            )
        ),
    )
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert len(gateway.submits) == 2
    assert gateway.submits[0].reference == gateway.submits[1].reference
    assert len(gateway.debits()) == 1


async def test_not_found_forever_gives_up_and_fails_over_safely(app, clock, gateway):
    """A reference the provider never accepts is retried, then abandoned for the next wallet."""
    gateway.script(TELECEL, Script(submit=(ProviderOutcome.not_found("RESOURCE_NOT_FOUND"),)))
    wallets = (WalletInput("mtn", MTN), WalletInput("telecel", TELECEL))
    await _fund_floats(app, clock)
    payment = await _run(
        app,
        clock,
        (await app.payments.initiate(_cmd(wallets=wallets, payee="0551234567"))).payment.id,
    )
    assert payment.state is PaymentState.CONFIRMED
    assert payment.attempts[0].status is AttemptStatus.FAILED
    telecel_sends = [r for r in gateway.submits if r.provider is ProviderId.TELECEL]
    assert len(telecel_sends) > 1
    assert len({r.reference for r in telecel_sends}) == 1
    assert [d.provider for d in gateway.debits()] == [ProviderId.MTN]


async def test_expiry_while_waiting_for_the_payer(app, clock, gateway):
    """A payer who never approves: the provider's final answer after the timeout makes it EXPIRED."""
    gateway.script(
        MTN,
        Script(
            status=(ProviderOutcome.pending("PENDING"),) * 30
            + (ProviderOutcome.failed(FailureReason.EXPIRED, "EXPIRED"),)
        ),
    )
    payment = await _run(
        app, clock, (await app.payments.initiate(_cmd())).payment.id, max_rounds=80
    )
    assert payment.state is PaymentState.EXPIRED
    assert payment.failure_code == "expired"
    assert gateway.debits() == []


async def test_expiry_before_anything_was_sent(app, clock):
    """A payment nobody advanced before its deadline expires without reaching a provider."""
    result = await app.payments.initiate(_cmd())
    clock.advance(seconds=app.settings.transaction_timeout_seconds + 1)
    payment = await _run(app, clock, result.payment.id)
    assert payment.state is PaymentState.EXPIRED
    assert payment.attempts == []


async def test_cancel_before_processing(app, clock):
    """Cancel is allowed while nothing is at a provider, and the worker then does nothing."""
    result = await app.payments.initiate(_cmd())
    cancelled = await app.payments.cancel("m1", result.payment.id)
    assert cancelled.state is PaymentState.CANCELLED
    payment = await _run(app, clock, result.payment.id)
    assert payment.state is PaymentState.CANCELLED
    assert payment.attempts == []


async def test_cancel_during_processing_is_refused(app, clock, gateway):
    """Once an attempt is at a provider, cancel raises and the payment goes on."""
    gateway.script(MTN, Script(status=(ProviderOutcome.pending("PENDING"),)))
    result = await app.payments.initiate(_cmd())
    await app.lifecycle.advance(result.payment.id)
    assert (await app.payments.get("m1", result.payment.id)).state is PaymentState.PROCESSING
    with pytest.raises(PaymentNotCancellable):
        await app.payments.cancel("m1", result.payment.id)


async def test_idempotent_initiate(app):
    """Same key + same request replays; same key + different request is refused."""
    first = await app.payments.initiate(_cmd())
    again = await app.payments.initiate(_cmd())
    assert again.replayed
    assert again.payment.id == first.payment.id
    with pytest.raises(IdempotencyKeyReused):
        await app.payments.initiate(_cmd(fingerprint="other"))


async def test_concurrent_initiates_with_one_key_make_one_payment(app):
    """Many concurrent identical requests create exactly one payment."""
    results = await asyncio.gather(*(app.payments.initiate(_cmd()) for _ in range(20)))
    assert len({r.payment.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1


async def test_two_workers_never_double_submit(app, clock, gateway):
    """Concurrent handlers of one payment send its attempt once (per reference)."""
    result = await app.payments.initiate(_cmd())
    await asyncio.gather(*(app.lifecycle.advance(result.payment.id) for _ in range(5)))
    assert len({r.reference for r in gateway.submits}) == 1
    payment = await _run(app, clock, result.payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert len(gateway.debits()) == 1


async def test_duplicate_and_late_callbacks_change_nothing(app, clock, gateway):
    """A callback only triggers a status query; repeats after the final answer are no-ops."""
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    ref = payment.attempts[0].reference
    events_before = len(payment.events)
    assert await app.payments.on_callback(ProviderId.MTN, ref)
    assert not await app.payments.on_callback(ProviderId.MTN, "not-ours")
    assert not await app.payments.on_callback(ProviderId.TELECEL, ref)
    for _ in range(3):
        await app.lifecycle.handle(_task(payment.id, ref))
    after = await app.payments.get("m1", payment.id)
    assert after.state is PaymentState.CONFIRMED
    assert len(after.events) == events_before
    assert len(gateway.debits()) == 1


def _task(payment_id, ref):
    from synccash.core.ports import Task

    return Task(TaskKind.CHECK_STATUS, payment_id, hint=ref)


async def test_full_and_partial_refunds(app, clock, gateway):
    """Refunds run as attempts; partial keeps CONFIRMED, the rest makes it REFUNDED; replays are safe."""
    payment = await _run(
        app, clock, (await app.payments.initiate(_cmd(amount="100.00"))).payment.id
    )
    with pytest.raises(PaymentNotRefundable):
        await app.payments.refund("m1", payment.id, "100.01", "r0")
    await app.payments.refund("m1", payment.id, "40.00", "r1")
    await app.payments.refund("m1", payment.id, "40.00", "r1")  # replay: no second refund
    payment = await _run(app, clock, payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert payment.refunded_minor == 4000
    await app.payments.refund("m1", payment.id, None, "r2")
    payment = await _run(app, clock, payment.id)
    assert payment.state is PaymentState.REFUNDED
    refunds = list(gateway.debits([AttemptKind.REFUND]))
    refund_refs = [a.reference for a in payment.attempts if a.kind is AttemptKind.REFUND]
    assert all(uuid.UUID(ref).version == 4 for ref in refund_refs)  # MTN needs v4 references
    assert [r.amount_minor for r in refunds] == [4000, 6000]


async def test_validation_errors_are_specific(app):
    """Bad input raises the domain error with a stable code."""
    with pytest.raises(AmountOutOfRange) as exc:
        await app.payments.initiate(_cmd(amount="0.50"))
    assert exc.value.code == "amount_out_of_range"
    with pytest.raises(InvalidMsisdn):
        await app.payments.initiate(_cmd(payer="12345"))


async def test_other_merchants_cannot_see_a_payment(app):
    """Another merchant's payment id is simply not found."""
    result = await app.payments.initiate(_cmd())
    with pytest.raises(PaymentNotFound):
        await app.payments.get("m2", result.payment.id)


async def test_sweep_reenqueues_overdue_payments(app, clock):
    """The database sweep finds every payment whose next action is due (Redis is not the record)."""
    ids = [(await app.payments.initiate(_cmd(key=f"k{i}"))).payment.id for i in range(3)]
    assert await app.lifecycle.sweep_due() == 0  # just due: their own tasks are queued
    clock.advance(seconds=11)
    assert await app.lifecycle.sweep_due() == 3
    for payment_id in ids:
        await _run(app, clock, payment_id)
    assert await app.lifecycle.sweep_due() == 0


async def test_risk_block_fails_the_payment(app, clock):
    """A blocklisted payer is FAILED with the risk reason, before any provider call."""
    app.risk.block("233241234567", "fraud report")
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    assert payment.state is PaymentState.FAILED
    assert payment.failure_code == "risk_blocked"
    assert payment.attempts == []


async def test_ported_number_is_resolved_by_lookup(app, clock, gateway):
    """A number with an MTN prefix that now lives on Telecel is charged on Telecel."""
    gateway.ported["233241234567"] = ProviderId.TELECEL
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert payment.provider is ProviderId.TELECEL
    assert any(e.type == "payment.wallet_resolved" for e in payment.events)
    assert [d.provider for d in gateway.debits()] == [ProviderId.TELECEL]
    # the prefix network was tried first and said the payer is not its customer
    first, second = payment.attempts
    assert (first.provider, first.status) == (ProviderId.MTN, AttemptStatus.FAILED)
    assert first.failure_reason is FailureReason.PAYER_NOT_FOUND
    assert second.provider is ProviderId.TELECEL


async def test_a_payer_on_its_prefix_network_costs_no_lookup(app, clock, gateway):
    """Account-holder lookups happen only after PAYER_NOT_FOUND, not for every payment."""
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    assert payment.state is PaymentState.CONFIRMED
    assert gateway.lookups == []


async def test_a_payer_unknown_everywhere_fails_after_one_round_of_lookups(app, clock, gateway):
    """PAYER_NOT_FOUND and no network claims the number: FAILED, no second attempt."""
    gateway.script(
        "0241234567",
        Script(status=(ProviderOutcome.failed(FailureReason.PAYER_NOT_FOUND, "PAYER_NOT_FOUND"),)),
    )
    payment = await _run(app, clock, (await app.payments.initiate(_cmd())).payment.id)
    assert payment.state is PaymentState.FAILED
    assert payment.failure_code == FailureReason.PAYER_NOT_FOUND.value
    assert len(payment.attempts) == 1
    assert gateway.lookups  # it did ask before giving up
    assert gateway.debits() == []


async def test_explicit_wallets_are_not_second_guessed(app, clock, gateway):
    """A merchant's explicit wallet list is used as given (no lookups)."""
    gateway.ported["233241234567"] = ProviderId.TELECEL
    wallets = (WalletInput("mtn", MTN, "100.00"),)
    payment = await _run(
        app, clock, (await app.payments.initiate(_cmd(wallets=wallets))).payment.id
    )
    assert payment.provider is ProviderId.MTN


async def test_waiting_payment_schedules_its_next_look(app, clock, gateway):
    """After a step that must wait, a delayed task is queued for the next action time."""
    gateway.script(MTN, Script(status=(ProviderOutcome.pending("PENDING"),)))
    result = await app.payments.initiate(_cmd())
    await app.lifecycle.advance(result.payment.id)
    payment = await app.payments.get("m1", result.payment.id)
    assert payment.state is PaymentState.PROCESSING
    stats = await app.queue.stats()
    assert stats.delayed >= 1
    clock.set(payment.next_action_at)
    deliveries = await app.queue.consume("c1", count=10, block_ms=0)
    assert any(d.task.payment_id == payment.id for d in deliveries)


async def test_a_payment_confirmed_by_a_callback_withdraws_its_scheduled_look(app, clock, gateway):
    """The safety-net look scheduled while waiting is withdrawn once the callback's status
    query confirmed the payment (in the memory queue as in Redis)."""
    result = await app.payments.initiate(_cmd())
    await app.lifecycle.advance(result.payment.id)
    waiting = await app.payments.get("m1", result.payment.id)
    assert waiting.state is PaymentState.PROCESSING
    assert (await app.queue.stats()).delayed == 1
    reference = waiting.attempts[0].reference

    await app.lifecycle.handle(Task(TaskKind.CHECK_STATUS, waiting.id, hint=reference))

    assert (await app.payments.get("m1", waiting.id)).state is PaymentState.CONFIRMED
    assert (await app.queue.stats()).delayed == 0
    await app.queue.consume("c1", count=10, block_ms=0)  # the initiate's own ADVANCE
    clock.set(waiting.next_action_at + timedelta(seconds=1))
    assert [
        d
        for d in await app.queue.consume("c1", count=10, block_ms=0)
        if d.task.payment_id == waiting.id
    ] == []


async def test_partial_refund_refused_where_the_provider_refunds_only_in_full(app, clock):
    """AT Money refunds only in full: a partial refund is refused up front."""
    wallets = (WalletInput("airteltigo", "0261234567"),)
    cmd = _cmd(wallets=wallets, payer="0261234567", amount="20.00")
    payment = await _run(app, clock, (await app.payments.initiate(cmd)).payment.id)
    assert payment.state is PaymentState.CONFIRMED
    with pytest.raises(PaymentNotRefundable, match="only in full"):
        await app.payments.refund("m1", payment.id, "10.00", "r1")
    await app.payments.refund("m1", payment.id, None, "r2")
    payment = await _run(app, clock, payment.id)
    assert payment.state is PaymentState.REFUNDED


async def _pretend_submit_in_flight(app, payment_id):
    """Put the stored attempt back to CREATED, as if the submit's answer were not applied yet."""
    async with app.uow() as uow:
        stored = await uow.payments.get(payment_id)
        stored.attempts[0].status = AttemptStatus.CREATED
        await uow.payments.save(stored)
        await uow.commit()


async def test_a_callback_that_overtakes_the_submit_still_confirms_at_once(app, clock, gateway):
    """A callback for an attempt whose submit is in flight asks the provider and confirms."""
    payment_id = (await app.payments.initiate(_cmd())).payment.id
    await app.lifecycle.advance(payment_id)  # validated, routed, submitted: PROCESSING
    ref = (await app.payments.get("m1", payment_id)).attempts[0].reference
    await _pretend_submit_in_flight(app, payment_id)
    await app.lifecycle.handle(_task(payment_id, ref))
    payment = await app.payments.get("m1", payment_id)
    assert payment.state is PaymentState.CONFIRMED
    assert len(gateway.debits()) == 1


async def test_a_not_found_answer_to_an_early_callback_changes_nothing(app, clock, gateway):
    """If the provider does not know the reference yet, the callback's check leaves it alone."""
    payment_id = (await app.payments.initiate(_cmd())).payment.id
    await app.lifecycle.advance(payment_id)
    ref = (await app.payments.get("m1", payment_id)).attempts[0].reference
    gateway._requests.pop(ref)  # the provider "has not seen it yet"
    await _pretend_submit_in_flight(app, payment_id)
    before = await app.payments.get("m1", payment_id)
    await app.lifecycle.handle(_task(payment_id, ref))
    after = await app.payments.get("m1", payment_id)
    assert after.attempts[0].status is AttemptStatus.CREATED
    assert after.state is PaymentState.PROCESSING
    assert [e.type for e in after.events] == [e.type for e in before.events]
