"""The lifecycle's two decision tables: provider answer -> step, end of a leg -> what follows."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from attrs import frozen

from synccash.core.outcomes import OutcomeKind
from synccash.core.payment import (
    AttemptKind,
    PaymentKind,
)

_K = AttemptKind
_O = OutcomeKind


class Via(enum.StrEnum):
    """How an outcome was learnt."""

    SUBMIT = "submit"  # the answer to sending (or re-sending) the attempt
    STATUS = "status"  # the answer to a status query


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
