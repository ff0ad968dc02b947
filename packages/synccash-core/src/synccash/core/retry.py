"""What to do after a provider answer, and when: failover rules, backoff and the poll schedule.

Mapping provider codes to `ProviderOutcome`s is the provider clients' job (a
data-driven table per adapter). This module only decides on classified outcomes.
"""

from __future__ import annotations

import enum
import random
from datetime import timedelta
from typing import Final

from attrs import frozen

from synccash.core.errors import ValidationError
from synccash.core.outcomes import PAYER_DECISIONS, FailureReason, OutcomeKind, ProviderOutcome


class NextStep(enum.StrEnum):
    """The lifecycle's next move for an attempt after an outcome."""

    CONFIRM = "confirm"  # money moved
    KEEP_POLLING = "keep_polling"  # accepted, no verdict yet
    RESEND_SAME_REFERENCE = "resend_same_reference"  # nothing was created; same reference again
    FAIL_OVER = "fail_over"  # definitive failure at this wallet; try the next one
    FAIL = "fail"  # definitive failure of the intent
    RECONCILE = "reconcile"  # the request may have landed: poll status, never fail over


#: Failures tied to one wallet or provider: another wallet may still succeed.
FAILOVER_REASONS: Final = frozenset(
    {
        FailureReason.INSUFFICIENT_FUNDS,
        FailureReason.PROVIDER_UNAVAILABLE,
        FailureReason.LIMIT_EXCEEDED,
        FailureReason.NOT_ALLOWED,
        FailureReason.PAYER_NOT_FOUND,
        FailureReason.CONFIGURATION,
    }
)


def may_fail_over(reason: FailureReason | None) -> bool:
    """True if a definitive failure for this reason allows trying the payer's next wallet.

    Never for the payer's own decision (rejected, let the prompt expire): the
    intent fails and the payer may start again. Unlisted reasons (invalid
    request, payee not found, other) fail the intent too: another wallet would
    not fix them.
    """
    if reason is None or reason in PAYER_DECISIONS:
        return False
    return reason in FAILOVER_REASONS


def next_step(outcome: ProviderOutcome, *, has_next_wallet: bool) -> NextStep:
    """Decide the next move for an attempt from its classified outcome."""
    kind = outcome.kind
    if kind is OutcomeKind.SUCCEEDED:
        return NextStep.CONFIRM
    if kind is OutcomeKind.PENDING:
        return NextStep.KEEP_POLLING
    if kind in (OutcomeKind.TRANSIENT, OutcomeKind.NOT_FOUND):
        return NextStep.RESEND_SAME_REFERENCE
    if kind is OutcomeKind.UNKNOWN:
        return NextStep.RECONCILE
    if has_next_wallet and may_fail_over(outcome.reason):
        return NextStep.FAIL_OVER
    return NextStep.FAIL


@frozen
class BackoffPolicy:
    """Exponential backoff with full jitter, bounded by attempts and elapsed time.

    Attempt numbers start at 1 (the first resend after the original submit).
    """

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 60.0
    max_attempts: int = 6
    max_elapsed_seconds: float = 600.0

    def __attrs_post_init__(self) -> None:
        if self.base_seconds < 0 or self.factor < 1 or self.cap_seconds < 0:
            raise ValidationError(
                "backoff needs base >= 0, factor >= 1 and cap >= 0", code="invalid_policy"
            )
        if self.max_attempts < 1 or self.max_elapsed_seconds < 0:
            raise ValidationError(
                "backoff needs max_attempts >= 1 and max_elapsed >= 0", code="invalid_policy"
            )

    def ceiling(self, attempt_no: int) -> float:
        """The upper bound of the jittered delay for this attempt, in seconds."""
        exponent = max(attempt_no - 1, 0)
        try:
            raw = self.base_seconds * self.factor**exponent
        except OverflowError:  # far past the cap
            raw = self.cap_seconds
        return min(self.cap_seconds, raw)

    def delay(self, attempt_no: int, rng: random.Random) -> timedelta:
        """Full jitter: a uniform delay in [0, min(cap, base * factor^(attempt_no-1))]."""
        return timedelta(seconds=rng.uniform(0.0, self.ceiling(attempt_no)))

    def delay_for(self, outcome: ProviderOutcome, attempt_no: int, rng: random.Random) -> timedelta:
        """Like `delay`, but never sooner than the provider's Retry-After."""
        jittered = self.delay(attempt_no, rng)
        if outcome.retry_after_seconds is not None:
            return max(jittered, timedelta(seconds=outcome.retry_after_seconds))
        return jittered

    def exhausted(self, attempt_no: int, elapsed: timedelta) -> bool:
        """True once `attempt_no` attempts were made or the time budget is spent."""
        return (
            attempt_no >= self.max_attempts or elapsed.total_seconds() >= self.max_elapsed_seconds
        )


#: Polls after submit, as intervals: the first three, then by window since submit.
FIRST_POLLS: Final = (timedelta(seconds=10), timedelta(seconds=30), timedelta(seconds=60))
POLL_WINDOWS: Final = (
    (timedelta(minutes=10), timedelta(seconds=60)),
    (timedelta(hours=2), timedelta(minutes=5)),
    (timedelta(hours=24), timedelta(minutes=30)),
)
POLL_HORIZON: Final = POLL_WINDOWS[-1][0]


def poll_delay(since_submit: timedelta, poll_count: int) -> timedelta | None:
    """How long to wait before the next status poll of a pending/unknown attempt.

    Schedule (orchestrator-practices §4): +10 s, +30 s, +60 s, then every 60 s
    up to 10 min after submit, every 5 min up to 2 h, every 30 min up to 24 h.
    The last poll lands exactly on the 24 h mark; after it, None: hand the
    attempt over to manual reconciliation (T+1 settlement report).
    """
    if since_submit >= POLL_HORIZON:
        return None
    if poll_count < len(FIRST_POLLS) and since_submit < POLL_WINDOWS[0][0]:
        interval = FIRST_POLLS[poll_count]
    else:
        interval = next(step for until, step in POLL_WINDOWS if since_submit < until)
    return min(interval, POLL_HORIZON - since_submit)
