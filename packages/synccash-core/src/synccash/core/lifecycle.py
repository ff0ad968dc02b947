"""The lifecycle's decisions: what to do next with a payment, and what a provider answer means.

Pure (no I/O, no clock): the worker's service loads a payment, asks `next_action`, does the
one piece of I/O the action names (checks and routing, a submit, a status query), hands the
answer to `apply_checks` or `apply_outcome`, saves and enqueues. Every change to the payment
goes through a guarded `Payment` method that records its audit event.

Two explicit tables hold the money-safety rules (DESIGN.md section 2):

- `OUTCOME_RULES`: (leg kind, outcome kind, how it was learnt, failover allowed, route
  left, resend budget left, status API) -> `Step`, first matching row wins. A leg is an
  attempt of a kind: COLLECT, DISBURSE or REFUND; all three go through the same rows.
- `LEG_RESULTS`: (payment kind, leg kind, the leg succeeded or failed) -> `Then`, what the
  end of a leg means for the payment (confirm it, open the next leg, compensate, fail).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from attrs import frozen

from synccash.core.decision import Evaluation
from synccash.core.fraud import RiskDecision
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.ports import AttemptRequest
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.reliability import CircuitState, ProviderHealth
from synccash.core.retry import BackoffPolicy, may_fail_over, poll_delay

_K = AttemptKind
_O = OutcomeKind
_S = PaymentState

#: Resend safety net: a sent attempt with no answer is looked at again this much after its
#: backoff (the sweep re-sends with the same reference if the process died meanwhile).
SEND_GRACE: Final = timedelta(seconds=5)


class Via(enum.StrEnum):
    """How an outcome was learnt."""

    SUBMIT = "submit"  # the answer to sending (or re-sending) the attempt
    STATUS = "status"  # the answer to a status query


# --------------------------------------------------------------------------- actions
@frozen
class Done:
    """Nothing to do (final, or settled and waiting for nothing)."""


@frozen
class Wait:
    """Look again at `until`."""

    until: datetime


@frozen
class Expire:
    """The transaction timeout passed before any money moved."""

    why: str


@frozen
class Check:
    """Run the risk rules (unless `routing_only`) and routing, then `apply_checks`."""

    routing_only: bool = False


@frozen
class Fail:
    """The payment cannot go on (an inconsistency): FAILED with `code`."""

    code: str
    reason: str


@frozen
class Dispatch:
    """Open the first leg's attempt on the head of the route (if none is open) and send it."""


@frozen
class Send:
    """Send (or re-send, same reference) this CREATED attempt."""

    attempt: Attempt


@frozen
class Poll:
    """Ask the provider for the state of this attempt."""

    attempt: Attempt


Action = Done | Wait | Expire | Fail | Check | Dispatch | Send | Poll

_BEFORE_PROVIDER: Final = frozenset({_S.INITIATED, _S.VALIDATING, _S.PENDING})


def first_leg(kind: PaymentKind) -> AttemptKind:
    """The leg a payment starts with: a payout disburses, everything else collects."""
    return _K.DISBURSE if kind is PaymentKind.PAYOUT else _K.COLLECT


def next_action(payment: Payment, now: datetime) -> Action:
    """What the payment needs now. Reads only; the caller carries the action out."""
    if payment.state.is_final or payment.next_action_at is None:
        return Done()
    if payment.next_action_at > now:
        return Wait(payment.next_action_at)
    attempt = payment.open_attempt
    if payment.state is _S.CONFIRMED:  # only a refund can still be open
        return Done() if attempt is None else _send_or_poll(attempt)
    expired = now >= payment.expires_at and not payment.money_moved
    if payment.state in _BEFORE_PROVIDER:
        if expired and not payment.money_may_be_moving:
            return Expire("not confirmed within the transaction timeout")
        if payment.state is not _S.PENDING:
            return Check()
        return Dispatch() if payment.route else Check(routing_only=True)
    if attempt is None:
        if payment.kind is PaymentKind.TRANSFER and payment.money_moved and payment.route:
            return Dispatch()  # the payer paid: the payout leg is next
        return Fail("internal_inconsistency", "processing without an open attempt")
    if expired and attempt.status is AttemptStatus.CREATED and not attempt.submit_count:
        return Expire("timed out before the attempt was sent")  # never sent: nothing moved
    if expired and attempt.status is AttemptStatus.CREATED:
        return Poll(attempt)  # it may have been sent: ask before expiring
    return _send_or_poll(attempt)


def _send_or_poll(attempt: Attempt) -> Send | Poll:
    return Send(attempt) if attempt.status is AttemptStatus.CREATED else Poll(attempt)


def expire(payment: Payment, now: datetime, why: str) -> None:
    """Carry out `Expire`: close a never-sent attempt, then EXPIRED."""
    attempt = payment.open_attempt
    if attempt is not None and attempt.status is AttemptStatus.CREATED:
        payment.abandon_unsent(attempt, now, reason="transaction timeout")
    payment.expire(now, why=why)


# --------------------------------------------------------------------------- checks and routing
@frozen
class LifecyclePolicy:
    """The timings the decisions use (from settings, via `PaymentPolicy`)."""

    backoff: BackoffPolicy = BackoffPolicy()
    #: how long a payment whose every provider's circuit is open waits before routing again
    circuit_wait: timedelta = timedelta(seconds=5)
    #: how often a payout leg waiting for our float to be topped up looks again
    float_wait: timedelta = timedelta(seconds=30)
    callback_base_url: str | None = None


def begin_checks(payment: Payment, now: datetime) -> None:
    """INITIATED -> VALIDATING (the checks start)."""
    if payment.state is _S.INITIATED:
        payment.transition(_S.VALIDATING, now, actor="worker", reason="checks started")


def apply_checks(
    payment: Payment,
    evaluation: Evaluation,
    now: datetime,
    policy: LifecyclePolicy,
    *,
    retry_at: datetime | None = None,
) -> None:
    """The risk rules and routing answered: block, wait for a circuit, fail or route.

    `retry_at`: when the first open circuit lets a probe through (`earliest_retry`).
    """
    risk = evaluation.risk
    routing = evaluation.routing
    payment.record_checks(
        risk=None if risk is None else risk.explain(),
        routing=routing.explain(),
        flagged=risk is not None and risk.decision is RiskDecision.REVIEW,
    )
    if risk is not None and risk.decision is RiskDecision.BLOCK:
        codes = ", ".join(r.code for r in risk.reasons)
        payment.fail(now, code="risk_blocked", reason=f"blocked by risk rules: {codes}")
        return
    chosen = routing.chosen
    if chosen is None:
        if any(r.code == "circuit_open" for r in routing.rejected):
            _wait_for_circuit(payment, now, policy, retry_at)
            return
        why = "; ".join(f"{r.wallet.provider.value}: {r.message}" for r in routing.rejected)
        payment.fail(now, code="no_route_available", reason=f"no provider can take it ({why})")
        return
    payment.choose_route(
        now,
        route=tuple(c.wallet for c in routing.candidates),
        fee_quote=chosen.fee.explain(),
        fee_minor=chosen.fee.total_fee.minor,
    )


def _wait_for_circuit(
    payment: Payment, now: datetime, policy: LifecyclePolicy, retry_at: datetime | None
) -> None:
    """Every usable provider's circuit is open: wait in PENDING for a half-open probe.

    Routed again when the first circuit lets a probe through (else after `circuit_wait`);
    the transaction timeout still applies (`next_action` expires the payment).
    """
    if payment.state is _S.VALIDATING:
        payment.transition(
            _S.PENDING,
            now,
            actor="worker",
            reason="waiting for a provider: every circuit is open",
        )
    until = retry_at if retry_at is not None and retry_at > now else now + policy.circuit_wait
    payment.wait_until(min(until, payment.expires_at))


def apply_payout_checks(
    payment: Payment,
    health: Mapping[ProviderId, ProviderHealth],
    now: datetime,
    policy: LifecyclePolicy,
) -> None:
    """A payout's route is the payee's network: it must disburse, take the amount, and not
    have its circuit open (then the payout waits for a half-open probe)."""
    wallet = payment.wallets[0]
    profile = DEFAULT_PROFILES[wallet.provider]
    if not profile.can(Capability.DISBURSE) or not profile.within_limits(payment.amount):
        payment.fail(
            now,
            code="no_route_available",
            reason=f"{wallet.provider.value} cannot pay out {payment.amount.to_decimal_string()}",
        )
        return
    state = health.get(wallet.provider)
    if state is not None and state.circuit is CircuitState.OPEN:
        _wait_for_circuit(payment, now, policy, state.retry_at)
        return
    payment.choose_route(now, route=(wallet,), fee_quote=None, fee_minor=0)


def payout_route(payee: Msisdn, provider: ProviderId | None) -> tuple[Wallet, ...]:
    """Where a payout (or a transfer's second leg) goes: the merchant's named provider, else
    the network the payee's prefix says (a ported number is found by lookup when that
    network answers payee_not_found)."""
    return (Wallet(provider or payee.network_hint, payee),)


def next_leg(payment: Payment) -> AttemptKind:
    """The kind of the attempt `Dispatch` opens: the first leg, or a transfer's payout."""
    return _K.DISBURSE if payment.money_moved else first_leg(payment.kind)


def dispatch(payment: Payment, now: datetime, new_reference: Callable[[], str]) -> Attempt:
    """Carry out `Dispatch`: the next leg's attempt on the head of the route (PROCESSING).

    Opened only now, not when the previous leg ended: a payout leg holds float from its
    creation, which the caller checks first (`wait_for_float`).
    """
    attempt = payment.open_attempt
    if attempt is None:
        wallet = payment.route[0]
        attempt = payment.add_attempt(
            reference=new_reference(),
            provider=wallet.provider,
            kind=next_leg(payment),
            msisdn=wallet.msisdn,
            amount=payment.amount,
            at=now,
        )
    payment.stop_waiting()
    if payment.state is _S.PENDING:
        payment.transition(
            _S.PROCESSING,
            now,
            actor="worker",
            reason="attempt sent to provider",
            reference=attempt.reference,
            provider=attempt.provider.value,
        )
    return attempt


def wait_for_float(payment: Payment, now: datetime, policy: LifecyclePolicy) -> None:
    """Our float at the payee's network cannot cover the payout leg: wait until it is topped
    up (the payout in PENDING; a transfer whose payer paid stays PROCESSING)."""
    provider = payment.route[0].provider
    payment.wait_for(
        now,
        until=now + policy.float_wait,
        code="float_insufficient",
        reason=f"our {provider.value} float cannot cover {payment.amount.to_decimal_string()} yet",
    )


def prepare_send(
    payment: Payment,
    attempt: Attempt,
    now: datetime,
    policy: LifecyclePolicy,
    rng: random.Random,
) -> AttemptRequest:
    """Count the send and build the request (the caller persists before sending: rule 2)."""
    look_again = now + policy.backoff.delay(attempt.submit_count + 1, rng) + SEND_GRACE
    payment.count_send(attempt, now, look_again_at=look_again)
    original = (
        payment.attempt_by_reference(attempt.original_reference)
        if attempt.original_reference
        else None
    )
    base = policy.callback_base_url
    return AttemptRequest(
        provider=attempt.provider,
        kind=attempt.kind,
        reference=attempt.reference,
        amount=attempt.amount,
        msisdn=attempt.msisdn,
        payment_id=payment.id,
        note=(payment.description or payment.id)[:160],
        callback_url=f"{base}/{attempt.provider.value}/{attempt.reference}" if base else None,
        original_reference=attempt.original_reference,
        original_provider_transaction_id=original.provider_transaction_id if original else None,
    )


# --------------------------------------------------------------------------- the outcome table
class Step(enum.StrEnum):
    """What one provider answer means for the attempt it is about."""

    CONFIRM = "confirm"  # the leg succeeded: money moved
    POLL = "poll"  # no verdict yet: ask the provider again later
    RESEND = "resend"  # nothing was created (or no status API): same reference, later
    GIVE_UP = "give_up"  # never accepted after every try: the leg failed, nothing moved
    GIVE_UP_FAIL_OVER = "give_up_fail_over"  # the same, and the route has a next wallet
    FAIL_OVER = "fail_over"  # definitive failure at this wallet: the next one of the route
    FAIL = "fail"  # definitive failure of the leg
    MANUAL = "manual"  # no answer will ever come: hand it over to manual reconciliation


@frozen
class Situation:
    """Everything the outcome table looks at."""

    leg: AttemptKind
    outcome: OutcomeKind
    via: Via
    may_fail_over: bool  # the failure reason allows another wallet for this leg
    route_left: bool  # another wallet (or network) is ranked after this one
    budget_left: bool  # resends left: tries, time, and the payment's timeout before money moved
    status_api: bool  # the provider can answer a status query for this leg


@frozen
class Rule:
    """One row: a pattern (None = any value) and the step it means."""

    name: str
    step: Step
    outcomes: frozenset[OutcomeKind]
    via: Via | None = None
    may_fail_over: bool | None = None
    route_left: bool | None = None
    budget_left: bool | None = None
    status_api: bool | None = None
    legs: frozenset[AttemptKind] = frozenset(AttemptKind)

    def matches(self, s: Situation) -> bool:
        """True if every non-None field of the row equals the situation's."""
        return (
            s.leg in self.legs
            and s.outcome in self.outcomes
            and all(
                want is None or want == got
                for want, got in (
                    (self.via, s.via),
                    (self.may_fail_over, s.may_fail_over),
                    (self.route_left, s.route_left),
                    (self.budget_left, s.budget_left),
                    (self.status_api, s.status_api),
                )
            )
        )


def _o(*kinds: OutcomeKind) -> frozenset[OutcomeKind]:
    return frozenset(kinds)


_NOT_ACCEPTED: Final = _o(_O.TRANSIENT, _O.NOT_FOUND)

#: The money-safety rules, first matching row wins (DESIGN.md section 2, rules 2-4).
OUTCOME_RULES: Final = (
    Rule("succeeded", Step.CONFIRM, _o(_O.SUCCEEDED)),
    Rule("pending", Step.POLL, _o(_O.PENDING)),
    # AT Money refunds have no status API: only re-sending the same refund tells
    Rule("unanswerable_spent", Step.MANUAL, _o(_O.UNKNOWN), status_api=False, budget_left=False),
    Rule("unanswerable", Step.RESEND, _o(_O.UNKNOWN), status_api=False),
    # may have landed: reconcile by status queries, never fail over, never compensate
    Rule("unknown", Step.POLL, _o(_O.UNKNOWN)),
    # the status API hiccuped: the attempt itself is unchanged
    Rule("status_hiccup", Step.POLL, _o(_O.TRANSIENT), via=Via.STATUS),
    Rule(
        "never_accepted_fail_over",
        Step.GIVE_UP_FAIL_OVER,
        _NOT_ACCEPTED,
        budget_left=False,
        route_left=True,
    ),
    Rule("never_accepted", Step.GIVE_UP, _NOT_ACCEPTED, budget_left=False),
    Rule("not_accepted_yet", Step.RESEND, _NOT_ACCEPTED),
    Rule("failed_fail_over", Step.FAIL_OVER, _o(_O.FAILED), may_fail_over=True, route_left=True),
    Rule("failed", Step.FAIL, _o(_O.FAILED)),
)


def decide(situation: Situation) -> Rule:
    """The first row of `OUTCOME_RULES` that matches (every situation matches one)."""
    for rule in OUTCOME_RULES:
        if rule.matches(situation):
            return rule
    msg = f"no lifecycle rule for {situation}"  # pragma: no cover - the last rows catch all
    raise AssertionError(msg)  # pragma: no cover


# --------------------------------------------------------------------------- the leg table
class Then(enum.StrEnum):
    """What the end of a leg means for the payment."""

    CONFIRM_PAYMENT = "confirm_payment"  # the money reached where the payment sends it
    OPEN_PAYOUT = "open_payout"  # a transfer's payer paid: disburse to the payee
    FAIL_PAYMENT = "fail_payment"  # nothing moved, nothing left to try
    COMPENSATE = "compensate"  # a transfer's payout failed: refund its payer
    REFUNDED = "refunded"  # a refund (or a compensation) came back
    REFUND_REJECTED = "refund_rejected"  # the provider refused the refund


_C, _D, _R = _K.COLLECT, _K.DISBURSE, _K.REFUND
_COLL, _TRAN, _PAY = PaymentKind.COLLECTION, PaymentKind.TRANSFER, PaymentKind.PAYOUT

#: (payment kind, leg kind, the leg succeeded) -> what follows for the payment.
LEG_RESULTS: Final[Mapping[tuple[PaymentKind, AttemptKind, bool], Then]] = {
    (_COLL, _C, True): Then.CONFIRM_PAYMENT,
    (_COLL, _C, False): Then.FAIL_PAYMENT,
    (_TRAN, _C, True): Then.OPEN_PAYOUT,
    (_TRAN, _C, False): Then.FAIL_PAYMENT,
    (_TRAN, _D, True): Then.CONFIRM_PAYMENT,
    (_TRAN, _D, False): Then.COMPENSATE,
    (_PAY, _D, True): Then.CONFIRM_PAYMENT,
    (_PAY, _D, False): Then.FAIL_PAYMENT,
    **{(kind, _R, True): Then.REFUNDED for kind in PaymentKind},
    **{(kind, _R, False): Then.REFUND_REJECTED for kind in PaymentKind},
}


# --------------------------------------------------------------------------- applying an answer
def situation(
    payment: Payment,
    attempt: Attempt,
    outcome: ProviderOutcome,
    now: datetime,
    *,
    policy: LifecyclePolicy,
    via: Via,
) -> Situation:
    """The facts about one answer that the outcome table looks at."""
    leg = attempt.kind
    out_of_time = now >= payment.expires_at and not payment.money_moved and leg is not _R
    exhausted = policy.backoff.exhausted(attempt.submit_count, now - attempt.created_at)
    status_api = leg is not _R or DEFAULT_PROFILES[attempt.provider].can(Capability.REFUND_STATUS)
    return Situation(
        leg=leg,
        outcome=outcome.kind,
        via=via,
        may_fail_over=_may_fail_over(leg, outcome.reason),
        route_left=leg is not _R and len(payment.route) > 1,
        budget_left=not (out_of_time or exhausted),
        status_api=status_api,
    )


def _may_fail_over(leg: AttemptKind, reason: FailureReason | None) -> bool:
    if leg is _C:
        return may_fail_over(reason)
    # a payee's wallet lives on one network: only a ported number's home is worth a try
    return leg is _D and reason is FailureReason.PAYEE_NOT_FOUND


def _status_for(outcome: ProviderOutcome, attempt: Attempt) -> AttemptStatus | None:
    kind = outcome.kind
    if kind is _O.SUCCEEDED:
        return AttemptStatus.SUCCEEDED
    if kind is _O.FAILED:
        return AttemptStatus.FAILED
    if kind is _O.PENDING:
        return AttemptStatus.PENDING
    if kind is _O.UNKNOWN and attempt.status is not AttemptStatus.PENDING:
        # a status query that fails says nothing new about a pending attempt
        return AttemptStatus.UNKNOWN
    return None


@frozen
class _Answer:
    """One provider answer being applied, with what its effects need."""

    payment: Payment
    attempt: Attempt
    outcome: ProviderOutcome
    now: datetime
    policy: LifecyclePolicy
    rng: random.Random
    new_reference: Callable[[], str]

    @property
    def prefix(self) -> str:
        """Audit event prefix of the leg: refunds keep their own names."""
        return "refund" if self.attempt.kind is _R else "attempt"


def apply_outcome(
    payment: Payment,
    reference: str,
    outcome: ProviderOutcome,
    now: datetime,
    *,
    policy: LifecyclePolicy,
    rng: random.Random,
    via: Via,
    new_reference: Callable[[], str],
) -> Rule | None:
    """Apply one provider answer about attempt `reference`; returns the row that decided.

    None: the attempt is unknown or already final (a duplicate or late answer changes
    nothing: the first final answer stands).
    """
    attempt = payment.attempt_by_reference(reference)
    if attempt is None or not attempt.is_open:
        return None
    rule = decide(situation(payment, attempt, outcome, now, policy=policy, via=via))
    answer = _Answer(payment, attempt, outcome, now, policy, rng, new_reference)
    status = _status_for(outcome, attempt)
    if status is not None and status is not attempt.status:
        payment.update_attempt(
            attempt, status, outcome, now, event=f"{answer.prefix}.{status.value}"
        )
    _STEPS[rule.step](answer)
    return rule


def _confirm(a: _Answer) -> None:
    _leg_ended(a, succeeded=True)


def _poll(a: _Answer) -> None:
    polls = a.payment.count_poll(a.attempt)
    delay = poll_delay(a.now - a.attempt.created_at, polls)
    if delay is None:
        a.payment.record(
            f"{a.prefix}.needs_manual_reconciliation",
            a.now,
            "worker",
            reference=a.attempt.reference,
        )
        a.payment.wait_until(None)
        return
    a.payment.wait_until(a.now + delay)


def _resend(a: _Answer) -> None:
    a.payment.schedule_resend(
        a.attempt,
        a.now,
        event=f"{a.prefix}.resend_scheduled",
        outcome=a.outcome.kind.value,
        provider_code=a.outcome.provider_code,
    )
    a.payment.wait_until(
        a.now + a.policy.backoff.delay_for(a.outcome, a.attempt.submit_count, a.rng)
    )


def _manual(a: _Answer) -> None:
    a.payment.record(
        f"{a.prefix}.needs_manual_reconciliation",
        a.now,
        "worker",
        reference=a.attempt.reference,
        provider_code=a.outcome.provider_code,
    )
    a.payment.wait_until(None)


def _give_up(a: _Answer) -> None:
    """Never accepted after every try: nothing moved, so failing over is safe."""
    a.payment.update_attempt(
        a.attempt, AttemptStatus.FAILED, a.outcome, a.now, event=f"{a.prefix}.failed"
    )
    a.payment.record(
        f"{a.prefix}.gave_up",
        a.now,
        "worker",
        reference=a.attempt.reference,
        tries=a.attempt.submit_count,
    )


def _give_up_and_fail(a: _Answer) -> None:
    _give_up(a)
    _leg_ended(a, succeeded=False)


def _give_up_and_fail_over(a: _Answer) -> None:
    _give_up(a)
    _fail_over(a)


def _fail_over(a: _Answer) -> None:
    if _expired_before_money_moved(a.payment, a.now):
        _expire_after(a)
        return
    reason = a.outcome.reason.value if a.outcome.reason else "provider_failed"
    a.payment.fail_over(a.now, reason=reason)  # the next step dispatches the next attempt


def _fail(a: _Answer) -> None:
    _leg_ended(a, succeeded=False)


_STEPS: Final[Mapping[Step, Callable[[_Answer], None]]] = {
    Step.CONFIRM: _confirm,
    Step.POLL: _poll,
    Step.RESEND: _resend,
    Step.MANUAL: _manual,
    Step.GIVE_UP: _give_up_and_fail,
    Step.GIVE_UP_FAIL_OVER: _give_up_and_fail_over,
    Step.FAIL_OVER: _fail_over,
    Step.FAIL: _fail,
}


def _expired_before_money_moved(payment: Payment, now: datetime) -> bool:
    return now >= payment.expires_at and not payment.money_may_be_moving and not payment.money_moved


def _expire_after(a: _Answer) -> None:
    a.payment.expire(a.now, why=f"timed out; last attempt: {_message(a.outcome)}", actor="worker")


def _message(outcome: ProviderOutcome) -> str:
    reason = outcome.reason.value if outcome.reason else "provider_failed"
    return outcome.message or f"provider answered {outcome.provider_code or reason}"


def _leg_ended(a: _Answer, *, succeeded: bool) -> None:
    then = LEG_RESULTS.get((a.payment.kind, a.attempt.kind, succeeded), Then.FAIL_PAYMENT)
    _THEN[then](a)


def _confirm_payment(a: _Answer) -> None:
    if a.payment.state is not _S.PROCESSING:
        # Money moved after the payment left PROCESSING (should not happen: cancel and
        # expiry wait for a final answer). Record loudly for reconciliation.
        a.payment.record(
            "attempt.succeeded_late",
            a.now,
            "worker",
            reference=a.attempt.reference,
            state=a.payment.state.value,
        )
        return
    a.payment.transition(
        _S.CONFIRMED,
        a.now,
        actor="worker",
        reason="provider confirmed",
        provider_transaction_id=a.outcome.provider_transaction_id,
    )


def _open_payout(a: _Answer) -> None:
    payee = a.payment.payee.msisdn
    if a.payment.state is not _S.PROCESSING or payee is None:  # pragma: no cover - defensive
        _confirm_payment(a)
        return
    (wallet,) = payout_route(payee, None)
    a.payment.route_leg(wallet, a.now, reason="payer paid; paying the payee")


def _fail_payment(a: _Answer) -> None:
    if _expired_before_money_moved(a.payment, a.now):
        _expire_after(a)
        return
    reason = a.outcome.reason.value if a.outcome.reason else "provider_failed"
    a.payment.fail(a.now, code=reason, reason=_message(a.outcome))


def _compensate(a: _Answer) -> None:
    """Saga compensation: the payee could not be paid, so the payer gets the money back."""
    collected = a.payment.succeeded_attempt
    if collected is None:  # pragma: no cover - a payout leg follows a succeeded collection
        _fail_payment(a)
        return
    a.payment.compensate(
        collected,
        a.now,
        reference=a.new_reference(),
        why=f"payout failed: {_message(a.outcome)}",
        payout_reference=a.attempt.reference,
    )


def _refunded(a: _Answer) -> None:
    if a.payment.state is _S.PROCESSING:  # a transfer's compensation came back
        a.payment.compensated(a.attempt, a.now)
        return
    a.payment.record_refund(a.attempt, a.now)


def _refund_rejected(a: _Answer) -> None:
    a.payment.record(
        "refund.rejected",
        a.now,
        "worker",
        reference=a.attempt.reference,
        reason=a.outcome.reason.value if a.outcome.reason else None,
    )
    if a.payment.state is _S.PROCESSING:
        # a compensation the provider refused: the payer's money is with us; people decide
        a.payment.record(
            "refund.needs_manual_reconciliation", a.now, "worker", reference=a.attempt.reference
        )
    a.payment.wait_until(None)


_THEN: Final[Mapping[Then, Callable[[_Answer], None]]] = {
    Then.CONFIRM_PAYMENT: _confirm_payment,
    Then.OPEN_PAYOUT: _open_payout,
    Then.FAIL_PAYMENT: _fail_payment,
    Then.COMPENSATE: _compensate,
    Then.REFUNDED: _refunded,
    Then.REFUND_REJECTED: _refund_rejected,
}


# --------------------------------------------------------------------------- ported numbers
def lookup_for_home(payment: Payment, attempt: Attempt, outcome: ProviderOutcome) -> Msisdn | None:
    """The number to look up when the prefix network said "not our customer", else None.

    Numbers are portable. Asked only after the prefix network answered not found (most
    numbers live where their prefix says: one lookup per payment would cost a round trip)
    and only when nothing else is left on the route: for a collection from the payer's
    default wallet (the payer's number on its prefix network, nothing else known; a
    merchant's explicit wallets are taken as given), or a payout to the payee's prefix
    network.
    """
    if outcome.kind is not _O.FAILED or len(payment.route) != 1:
        return None
    if attempt.kind is _C and outcome.reason is FailureReason.PAYER_NOT_FOUND:
        wallet = payment.wallets[0] if len(payment.wallets) == 1 else None
        if wallet is None or wallet.balance is not None or wallet.msisdn != payment.payer:
            return None
        return wallet.msisdn if wallet.provider is wallet.msisdn.network_hint else None
    if attempt.kind is _D and outcome.reason is FailureReason.PAYEE_NOT_FOUND:
        head = payment.route[0]
        return head.msisdn if head.provider is head.msisdn.network_hint else None
    return None


def lookup_order(hint: ProviderId) -> tuple[ProviderId, ...]:
    """Providers to ask where a number lives: its prefix network first, then the others that
    have an account-holder lookup."""
    order = (hint, *(p for p in ProviderId if p is not hint))
    return tuple(p for p in order if DEFAULT_PROFILES[p].can(Capability.NAME_LOOKUP))


def add_home(payment: Payment, attempt: Attempt, home: ProviderId, now: datetime) -> None:
    """The lookup found the number on `home`: rank that network next on the route.

    For a collection the payer's default wallet follows the number (it becomes the payer's
    wallet on its home network).
    """
    head = payment.route[0]
    if home is head.provider:
        return
    who = "payer" if attempt.kind is _C else "payee"
    payment.add_to_route(
        Wallet(home, head.msisdn),
        now,
        as_wallet=attempt.kind is _C,
        event="payment.wallet_resolved",
        prefix_network=head.provider.value,
        reason=f"account-holder lookup after {who}_not_found (number ported)",
    )
