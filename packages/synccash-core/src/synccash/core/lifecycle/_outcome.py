"""Applying one provider answer (`apply_outcome`): the outcome table's step, then the leg table's."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from attrs import frozen

from synccash.core.lifecycle._next import LifecyclePolicy, payout_route
from synccash.core.lifecycle._table import (
    LEG_RESULTS,
    Rule,
    Situation,
    Step,
    Then,
    Via,
    decide,
)
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentState,
)
from synccash.core.providers import DEFAULT_PROFILES, Capability
from synccash.core.retry import may_fail_over, poll_delay

_O = OutcomeKind
_S = PaymentState
_C, _D, _R = AttemptKind.COLLECT, AttemptKind.DISBURSE, AttemptKind.REFUND


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
