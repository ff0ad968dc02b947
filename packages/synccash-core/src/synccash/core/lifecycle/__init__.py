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

from synccash.core.lifecycle._next import (
    SEND_GRACE,
    Action,
    Check,
    Dispatch,
    Done,
    Expire,
    Fail,
    LifecyclePolicy,
    Poll,
    Send,
    Wait,
    apply_checks,
    apply_payout_checks,
    begin_checks,
    dispatch,
    expire,
    first_leg,
    next_action,
    next_leg,
    payout_route,
    prepare_send,
    wait_for_float,
)
from synccash.core.lifecycle._outcome import (
    apply_outcome,
    situation,
)
from synccash.core.lifecycle._ported import (
    add_home,
    lookup_for_home,
    lookup_order,
)
from synccash.core.lifecycle._table import (
    LEG_RESULTS,
    OUTCOME_RULES,
    Rule,
    Situation,
    Step,
    Then,
    Via,
    decide,
)

__all__ = [
    "LEG_RESULTS",
    "OUTCOME_RULES",
    "SEND_GRACE",
    "Action",
    "Check",
    "Dispatch",
    "Done",
    "Expire",
    "Fail",
    "LifecyclePolicy",
    "Poll",
    "Rule",
    "Send",
    "Situation",
    "Step",
    "Then",
    "Via",
    "Wait",
    "add_home",
    "apply_checks",
    "apply_outcome",
    "apply_payout_checks",
    "begin_checks",
    "decide",
    "dispatch",
    "expire",
    "first_leg",
    "lookup_for_home",
    "lookup_order",
    "next_action",
    "next_leg",
    "payout_route",
    "prepare_send",
    "situation",
    "wait_for_float",
]
