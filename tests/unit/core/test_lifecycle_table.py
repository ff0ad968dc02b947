"""Every row of the lifecycle's decision tables, on the pure core (no ports, no clock)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core import lifecycle as lc
from synccash.core.decision import evaluate
from synccash.core.lifecycle import LEG_RESULTS, OUTCOME_RULES, Situation, Step, Then, Via
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import (
    AttemptKind,
    AttemptStatus,
    Payee,
    Payment,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, ProviderHealth, earliest_retry
from synccash.core.retry import BackoffPolicy
from synccash.core.routing import Router

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")
PAYEE = Msisdn.parse("0551234567")
POLICY = lc.LifecyclePolicy(backoff=BackoffPolicy(max_attempts=3))
_K, _O = AttemptKind, OutcomeKind


def _situation(**changes: object) -> Situation:
    base: dict[str, object] = {
        "leg": _K.COLLECT,
        "outcome": _O.PENDING,
        "via": Via.SUBMIT,
        "may_fail_over": False,
        "route_left": False,
        "budget_left": True,
        "status_api": True,
    }
    base.update(changes)
    return Situation(**base)  # type: ignore[arg-type]


#: One situation per row that reaches that row (and no earlier one).
ROW_EXAMPLES: dict[str, Situation] = {
    "succeeded": _situation(outcome=_O.SUCCEEDED),
    "pending": _situation(outcome=_O.PENDING, via=Via.STATUS),
    "unanswerable_spent": _situation(
        leg=_K.REFUND, outcome=_O.UNKNOWN, status_api=False, budget_left=False
    ),
    "unanswerable": _situation(leg=_K.REFUND, outcome=_O.UNKNOWN, status_api=False),
    "unknown": _situation(leg=_K.DISBURSE, outcome=_O.UNKNOWN, route_left=True),
    "status_hiccup": _situation(outcome=_O.TRANSIENT, via=Via.STATUS, budget_left=False),
    "never_accepted_fail_over": _situation(
        outcome=_O.NOT_FOUND, budget_left=False, route_left=True
    ),
    "never_accepted": _situation(leg=_K.REFUND, outcome=_O.TRANSIENT, budget_left=False),
    "not_accepted_yet": _situation(outcome=_O.NOT_FOUND, via=Via.STATUS, route_left=True),
    "failed_fail_over": _situation(outcome=_O.FAILED, may_fail_over=True, route_left=True),
    "failed": _situation(outcome=_O.FAILED, may_fail_over=True, route_left=False),
}


def test_every_row_has_an_example() -> None:
    """A new row of the outcome table needs its example here (and so its test)."""
    assert [r.name for r in OUTCOME_RULES] == list(ROW_EXAMPLES)


@pytest.mark.parametrize("rule", OUTCOME_RULES, ids=lambda r: r.name)
def test_each_row_decides_its_own_example(rule: lc.Rule) -> None:
    """The row's example is decided by that row, with that row's step."""
    decided = lc.decide(ROW_EXAMPLES[rule.name])

    assert (rule.name, rule.step) == (decided.name, decided.step)


@given(
    leg=st.sampled_from(AttemptKind),
    outcome=st.sampled_from(OutcomeKind),
    via=st.sampled_from(Via),
    may_fail_over=st.booleans(),
    route_left=st.booleans(),
    budget_left=st.booleans(),
    status_api=st.booleans(),
)
def test_money_safety_holds_for_every_situation(  # noqa: PLR0917
    leg: AttemptKind,
    outcome: OutcomeKind,
    via: Via,
    may_fail_over: bool,
    route_left: bool,
    budget_left: bool,
    status_api: bool,
) -> None:
    """Unknown never fails over or fails; only a definite failure or an exhausted
    never-accepted attempt ends a leg; only success confirms."""
    step = lc.decide(
        Situation(leg, outcome, via, may_fail_over, route_left, budget_left, status_api)
    ).step

    if outcome is _O.UNKNOWN:
        assert step in {Step.POLL, Step.RESEND, Step.MANUAL}
    if step in {Step.FAIL, Step.FAIL_OVER}:
        assert outcome is _O.FAILED
    if step in {Step.GIVE_UP, Step.GIVE_UP_FAIL_OVER}:
        assert (outcome in {_O.TRANSIENT, _O.NOT_FOUND}, budget_left) == (True, False)
    assert (step is Step.CONFIRM) == (outcome is _O.SUCCEEDED)


# --------------------------------------------------------------------------- applying answers
class _Refs:
    """Predictable attempt references."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"ref-{self.n}"


def _payment(
    kind: PaymentKind = PaymentKind.COLLECTION,
    wallets: tuple[Wallet, ...] = (Wallet(ProviderId.MTN, PAYER),),
) -> Payment:
    payee = Payee(merchant_account="shop") if kind is PaymentKind.COLLECTION else Payee(PAYEE)
    if kind is PaymentKind.PAYOUT:
        wallets = lc.payout_route(PAYEE, None)
    payment = Payment.initiate(
        payment_id="00000000-0000-7000-8000-000000000001",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYEE if kind is PaymentKind.PAYOUT else PAYER,
        wallets=wallets,
        payee=payee,
        now=T0,
        expires_at=T0 + timedelta(minutes=15),
        kind=kind,
    )
    payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks started")
    payment.choose_route(T0, route=wallets, fee_quote=None, fee_minor=0)
    return payment


def _sent(payment: Payment, refs: _Refs) -> str:
    """Dispatch and send the first leg; returns its reference."""
    attempt = lc.dispatch(payment, T0, refs)
    lc.prepare_send(payment, attempt, T0, POLICY, random.Random(1))
    return attempt.reference


def _apply(
    payment: Payment,
    reference: str,
    outcome: ProviderOutcome,
    refs: _Refs,
    *,
    at: datetime = T0,
    via: Via = Via.STATUS,
) -> lc.Rule | None:
    return lc.apply_outcome(
        payment,
        reference,
        outcome,
        at,
        policy=POLICY,
        rng=random.Random(1),
        via=via,
        new_reference=refs,
    )


OK = ProviderOutcome.succeeded("txn-1", "SUCCESSFUL")
PAYEE_GONE = ProviderOutcome.failed(FailureReason.PAYEE_NOT_FOUND, "PAYEE_NOT_FOUND")


def _confirmed_transfer_collect(refs: _Refs) -> tuple[Payment, str]:
    """A transfer whose payer paid, its payout leg dispatched (not sent yet)."""
    payment = _payment(PaymentKind.TRANSFER)
    collect = _sent(payment, refs)
    _apply(payment, collect, OK, refs)
    assert lc.Dispatch() == lc.next_action(payment, T0)
    assert lc.next_leg(payment) == _K.DISBURSE
    lc.dispatch(payment, T0, refs)
    return payment, collect


def test_collection_collect_succeeded_confirms_the_payment() -> None:
    """(collection, collect, succeeded) -> CONFIRMED."""
    refs = _Refs()
    payment = _payment()
    _apply(payment, _sent(payment, refs), OK, refs)

    assert (payment.state, payment.next_action_at) == (PaymentState.CONFIRMED, None)


@pytest.mark.parametrize("kind", [PaymentKind.COLLECTION, PaymentKind.TRANSFER])
def test_collect_failed_fails_the_payment(kind: PaymentKind) -> None:
    """(collection|transfer, collect, failed) -> FAILED with the reason as code."""
    refs = _Refs()
    payment = _payment(kind)
    rejected = ProviderOutcome.failed(FailureReason.REJECTED_BY_PAYER, "REJECTED")
    _apply(payment, _sent(payment, refs), rejected, refs)

    assert (
        payment.state,
        payment.failure_code,
        len(payment.attempts),
    ) == (PaymentState.FAILED, "rejected_by_payer", 1)


def test_transfer_collect_succeeded_opens_the_payout_leg() -> None:
    """(transfer, collect, succeeded) -> a DISBURSE attempt to the payee's network, still PROCESSING."""
    refs = _Refs()
    payment, _ = _confirmed_transfer_collect(refs)
    payout = payment.open_attempt

    assert payout is not None
    assert (PaymentState.PROCESSING, _K.DISBURSE, ProviderId.MTN, PAYEE, Money(5000)) == (
        payment.state,
        payout.kind,
        payout.provider,
        payout.msisdn,
        payout.amount,
    )
    assert lc.Send(payout) == lc.next_action(payment, T0)


def test_transfer_disburse_succeeded_confirms() -> None:
    """(transfer, disburse, succeeded) -> CONFIRMED only now that the payee is credited."""
    refs = _Refs()
    payment, _ = _confirmed_transfer_collect(refs)
    payout = payment.open_attempt
    assert payout is not None
    lc.prepare_send(payment, payout, T0, POLICY, random.Random(1))
    _apply(payment, payout.reference, OK, refs)

    assert payment.state == PaymentState.CONFIRMED


def test_transfer_disburse_failed_refunds_the_payer_and_ends_refunded() -> None:
    """(transfer, disburse, failed) -> compensation refund of the collection, then REFUNDED."""
    refs = _Refs()
    payment, collect = _confirmed_transfer_collect(refs)
    payout = payment.open_attempt
    assert payout is not None
    lc.prepare_send(payment, payout, T0, POLICY, random.Random(1))
    blocked = ProviderOutcome.failed(FailureReason.NOT_ALLOWED, "BLOCKED")
    _apply(payment, payout.reference, blocked, refs)
    refund = payment.open_attempt
    assert refund is not None
    assert (_K.REFUND, collect, PAYER, PaymentState.PROCESSING) == (
        refund.kind,
        refund.original_reference,
        refund.msisdn,
        payment.state,
    )
    lc.prepare_send(payment, refund, T0, POLICY, random.Random(1))
    _apply(payment, refund.reference, OK, refs)

    assert (
        payment.state,
        payment.failure_code,
        payment.refunded_minor,
    ) == (PaymentState.REFUNDED, "payout_failed", 5000)


def test_transfer_disburse_unknown_is_polled_never_compensated() -> None:
    """An unknown payout is reconciled: no refund while it is unknown, even past the timeout."""
    refs = _Refs()
    payment, _ = _confirmed_transfer_collect(refs)
    payout = payment.open_attempt
    assert payout is not None
    lc.prepare_send(payment, payout, T0, POLICY, random.Random(1))
    late = T0 + timedelta(hours=1)
    rule = _apply(payment, payout.reference, ProviderOutcome.unknown("504"), refs, at=late)

    assert rule is not None
    assert (
        rule.name,
        payout.status,
        len(payment.attempts),
    ) == ("unknown", AttemptStatus.UNKNOWN, 2)
    assert lc.Poll(payout) == lc.next_action(payment, late + timedelta(hours=1))


def test_payout_disburse_succeeded_confirms() -> None:
    """(payout, disburse, succeeded) -> CONFIRMED."""
    refs = _Refs()
    payment = _payment(PaymentKind.PAYOUT)
    reference = _sent(payment, refs)

    assert payment.attempts[0].kind == _K.DISBURSE
    _apply(payment, reference, OK, refs)
    assert payment.state == PaymentState.CONFIRMED


def test_payout_disburse_failed_fails_without_a_refund() -> None:
    """(payout, disburse, failed) -> FAILED; nothing moved, nothing to compensate."""
    refs = _Refs()
    payment = _payment(PaymentKind.PAYOUT)
    _apply(payment, _sent(payment, refs), PAYEE_GONE, refs)

    assert (
        payment.state,
        payment.failure_code,
        len(payment.attempts),
    ) == (PaymentState.FAILED, "payee_not_found", 1)


def _confirmed_with_refund(refs: _Refs, amount: int) -> tuple[Payment, str]:
    payment = _payment()
    _apply(payment, _sent(payment, refs), OK, refs)
    collected = payment.attempts[0]
    refund = payment.add_attempt(
        reference=refs(),
        provider=collected.provider,
        kind=_K.REFUND,
        msisdn=collected.msisdn,
        amount=Money(amount),
        at=T0,
        original_reference=collected.reference,
    )
    payment.wait_until(T0)
    lc.prepare_send(payment, refund, T0, POLICY, random.Random(1))
    return payment, refund.reference


@pytest.mark.parametrize(
    ("amount", "state", "last"),
    [
        (5000, PaymentState.REFUNDED, "payment.refunded"),
        (2000, PaymentState.CONFIRMED, "payment.partially_refunded"),
    ],
)
def test_refund_succeeded_counts_it(amount: int, state: PaymentState, last: str) -> None:
    """(any, refund, succeeded) -> refunded_minor grows; REFUNDED once all is back."""
    refs = _Refs()
    payment, reference = _confirmed_with_refund(refs, amount)
    _apply(payment, reference, OK, refs)

    assert (state, amount, last, None) == (
        payment.state,
        payment.refunded_minor,
        payment.events[-1].type,
        payment.next_action_at,
    )


def test_refund_failed_is_recorded_and_the_payment_stays_confirmed() -> None:
    """(any, refund, failed) -> refund.rejected; the payment stays CONFIRMED."""
    refs = _Refs()
    payment, reference = _confirmed_with_refund(refs, 5000)
    _apply(payment, reference, ProviderOutcome.failed(FailureReason.NOT_ALLOWED), refs)

    assert (
        payment.state,
        payment.events[-1].type,
        payment.next_action_at,
    ) == (PaymentState.CONFIRMED, "refund.rejected", None)


def test_leg_results_cover_every_kind_and_leg_a_payment_can_have() -> None:
    """Every (payment kind, leg kind, result) the lifecycle can produce has a row."""
    legs = {
        PaymentKind.COLLECTION: {_K.COLLECT, _K.REFUND},
        PaymentKind.TRANSFER: {_K.COLLECT, _K.DISBURSE, _K.REFUND},
        PaymentKind.PAYOUT: {_K.DISBURSE, _K.REFUND},
    }
    wanted = {(k, leg, ok) for k, ls in legs.items() for leg in ls for ok in (True, False)}

    assert wanted <= set(LEG_RESULTS)
    assert LEG_RESULTS[PaymentKind.TRANSFER, _K.DISBURSE, False] == Then.COMPENSATE


# --------------------------------------------------------------------------- the other steps
def test_resend_keeps_the_reference_and_records_for_every_leg() -> None:
    """Collect and refund resends are one function: both record `*.resend_scheduled`."""
    refs = _Refs()
    payment, reference = _confirmed_with_refund(refs, 5000)
    refund = payment.attempt_by_reference(reference)
    assert refund is not None
    # accepted once; now the provider says it never had it
    payment.update_attempt(refund, AttemptStatus.SUBMITTED, ProviderOutcome.pending(), T0)
    rule = _apply(payment, reference, ProviderOutcome.not_found("404"), refs)

    assert rule is not None
    assert (
        rule.name,
        refund.status,
        payment.events[-1].type,
    ) == ("not_accepted_yet", AttemptStatus.CREATED, "refund.resend_scheduled")
    assert lc.Send(refund) == lc.next_action(payment, payment.next_action_at or T0)


def test_never_accepted_collect_fails_over_to_the_next_wallet() -> None:
    """Out of tries: the attempt gives up and the next wallet gets a fresh attempt."""
    refs = _Refs()
    wallets = (
        Wallet(ProviderId.TELECEL, Msisdn.parse("0201234567")),
        Wallet(ProviderId.MTN, PAYER),
    )
    payment = _payment(wallets=wallets)
    reference = _sent(payment, refs)
    payment.attempts[0].submit_count = POLICY.backoff.max_attempts
    _apply(payment, reference, ProviderOutcome.transient("503"), refs, via=Via.SUBMIT)

    assert (PaymentState.PENDING, (wallets[1],), AttemptStatus.FAILED) == (
        payment.state,
        payment.route,
        payment.attempts[0].status,
    )
    assert lc.Dispatch() == lc.next_action(payment, T0)


def test_polls_end_in_manual_reconciliation_after_the_horizon() -> None:
    """An attempt still unknown after 24 h is handed to people, not failed."""
    refs = _Refs()
    payment = _payment()
    reference = _sent(payment, refs)
    rule = _apply(payment, reference, ProviderOutcome.unknown(), refs, at=T0 + timedelta(days=2))

    assert rule is not None
    assert (
        payment.events[-1].type,
        payment.next_action_at,
        payment.state,
    ) == ("attempt.needs_manual_reconciliation", None, PaymentState.PROCESSING)


def test_a_late_or_duplicate_answer_changes_nothing() -> None:
    """Once an attempt is final, another answer about it is ignored."""
    refs = _Refs()
    payment = _payment()
    reference = _sent(payment, refs)
    _apply(payment, reference, OK, refs)
    events = len(payment.events)

    assert _apply(payment, reference, PAYEE_GONE, refs) is None
    assert (PaymentState.CONFIRMED, events) == (payment.state, len(payment.events))


def test_ported_payee_is_looked_up_and_its_home_network_paid() -> None:
    """A payout whose prefix network says payee_not_found fails over to the home network."""
    refs = _Refs()
    payment = _payment(PaymentKind.PAYOUT)
    reference = _sent(payment, refs)
    attempt = payment.attempts[0]
    number = lc.lookup_for_home(payment, attempt, PAYEE_GONE)
    assert number == PAYEE
    lc.add_home(payment, attempt, ProviderId.TELECEL, T0)
    _apply(payment, reference, PAYEE_GONE, refs)

    assert (payment.state, payment.route[0].provider) == (PaymentState.PENDING, ProviderId.TELECEL)
    assert lc.Dispatch() == lc.next_action(payment, T0)


# --------------------------------------------------------------------------- next_action
def test_next_action_walks_a_new_payment() -> None:
    """INITIATED -> Check; PENDING with a route -> Dispatch; not due -> Wait; final -> Done."""
    payment = Payment.initiate(
        payment_id="p",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(merchant_account="shop"),
        now=T0,
        expires_at=T0 + timedelta(minutes=15),
    )
    assert lc.Check() == lc.next_action(payment, T0)
    assert lc.Wait(T0) == lc.next_action(payment, T0 - timedelta(seconds=1))
    assert lc.Expire("not confirmed within the transaction timeout") == lc.next_action(
        payment, T0 + timedelta(minutes=15)
    )
    assert lc.Dispatch() == lc.next_action(_payment(), T0)
    payment.cancel(T0)
    assert lc.Done() == lc.next_action(payment, T0)


def test_an_unsent_attempt_past_the_timeout_expires_and_is_closed() -> None:
    """Never sent: nothing moved; the attempt is abandoned (audited) and the payment EXPIRED."""
    refs = _Refs()
    payment = _payment()
    lc.dispatch(payment, T0, refs)
    late = T0 + timedelta(minutes=20)
    action = lc.next_action(payment, late)
    assert isinstance(action, lc.Expire)
    lc.expire(payment, late, action.why)

    assert (
        payment.state,
        payment.attempts[0].status,
        payment.events[-2].type,
    ) == (PaymentState.EXPIRED, AttemptStatus.FAILED, "attempt.abandoned")


# --------------------------------------------------------------------------- checks and health
def test_every_circuit_open_waits_in_pending_within_the_timeout() -> None:
    """A payout whose network's circuit is open waits for a probe instead of failing."""
    payment = Payment.initiate(
        payment_id="p",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYEE,
        wallets=lc.payout_route(PAYEE, None),
        payee=Payee(PAYEE),
        now=T0,
        expires_at=T0 + timedelta(minutes=15),
        kind=PaymentKind.PAYOUT,
    )
    lc.begin_checks(payment, T0)
    open_ = {ProviderId.MTN: ProviderHealth(ProviderId.MTN, 0.1, 50, 100, 200, CircuitState.OPEN)}
    lc.apply_payout_checks(payment, open_, T0, POLICY)

    assert (PaymentState.PENDING, (), T0 + POLICY.circuit_wait) == (
        payment.state,
        payment.route,
        payment.next_action_at,
    )
    assert lc.Check(routing_only=True) == lc.next_action(payment, T0 + POLICY.circuit_wait)
    lc.apply_payout_checks(payment, {}, T0 + POLICY.circuit_wait, POLICY)
    assert (payment.state, payment.events[-1].type) == (PaymentState.PENDING, "payment.rerouted")


def test_a_collection_whose_every_circuit_is_open_waits_for_the_first_probe() -> None:
    """No route because every circuit is open: PENDING until the first retry_at, not FAILED."""
    payment = Payment.initiate(
        payment_id="00000000-0000-7000-8000-000000000002",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(merchant_account="shop"),
        now=T0,
        expires_at=T0 + timedelta(minutes=15),
    )
    lc.begin_checks(payment, T0)
    probe_at = T0 + timedelta(seconds=20)
    health = {
        ProviderId.MTN: ProviderHealth(
            ProviderId.MTN, 0.1, 50, 100, 200, CircuitState.OPEN, retry_at=probe_at
        )
    }
    evaluation = evaluate(
        router=Router(),
        amount=payment.amount,
        wallets=payment.wallets,
        payee=payment.payee,
        signals=None,
        health=health,
        seed=1,
        on=T0.date(),
    )
    lc.apply_checks(payment, evaluation, T0, POLICY, retry_at=earliest_retry(health.values()))

    assert (PaymentState.PENDING, probe_at, None) == (
        payment.state,
        payment.next_action_at,
        payment.failure_code,
    )
    late = T0 + timedelta(minutes=15)
    assert lc.Expire("not confirmed within the transaction timeout") == lc.next_action(
        payment, late
    )
