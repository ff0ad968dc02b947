"""Failover rules, next steps, backoff with full jitter and the poll schedule."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import ValidationError
from synccash.core.outcomes import PAYER_DECISIONS, FailureReason, ProviderOutcome
from synccash.core.retry import (
    FAILOVER_REASONS,
    BackoffPolicy,
    NextStep,
    may_fail_over,
    next_step,
    poll_delay,
)

R = FailureReason
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    "reason",
    [
        R.INSUFFICIENT_FUNDS,
        R.PROVIDER_UNAVAILABLE,
        R.LIMIT_EXCEEDED,
        R.NOT_ALLOWED,
        R.PAYER_NOT_FOUND,
        R.CONFIGURATION,
    ],
)
def test_wallet_specific_failures_may_fail_over(reason):
    """Failures tied to one wallet or provider allow the next wallet."""
    assert may_fail_over(reason)


@pytest.mark.parametrize(
    "reason", [R.REJECTED_BY_PAYER, R.EXPIRED, R.INVALID_REQUEST, R.PAYEE_NOT_FOUND, R.OTHER, None]
)
def test_payer_decisions_and_request_errors_never_fail_over(reason):
    """The payer's own decision (and errors another wallet would not fix) fail the intent."""
    assert not may_fail_over(reason)


def test_payer_decisions_are_disjoint_from_failover_reasons():
    """No payer decision can ever be in the failover set."""
    assert not (PAYER_DECISIONS & FAILOVER_REASONS)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (ProviderOutcome.succeeded("tx1"), NextStep.CONFIRM),
        (ProviderOutcome.pending(), NextStep.KEEP_POLLING),
        (ProviderOutcome.transient(), NextStep.RESEND_SAME_REFERENCE),
        (ProviderOutcome.not_found(), NextStep.RESEND_SAME_REFERENCE),
        (ProviderOutcome.unknown(), NextStep.RECONCILE),
        (ProviderOutcome.failed(R.INSUFFICIENT_FUNDS), NextStep.FAIL_OVER),
        (ProviderOutcome.failed(R.REJECTED_BY_PAYER), NextStep.FAIL),
        (ProviderOutcome.failed(R.EXPIRED), NextStep.FAIL),
    ],
)
def test_next_step_with_another_wallet(outcome, expected):
    """Each outcome kind maps to its step when another wallet is available."""
    assert expected is next_step(outcome, has_next_wallet=True)


def test_unknown_never_fails_over_even_without_a_next_wallet():
    """UNKNOWN is reconciled whatever wallets remain."""
    assert next_step(ProviderOutcome.unknown(), has_next_wallet=False) is NextStep.RECONCILE


def test_failover_needs_a_next_wallet():
    """Without another wallet a wallet-specific failure fails the intent."""
    out = ProviderOutcome.failed(R.INSUFFICIENT_FUNDS)
    assert next_step(out, has_next_wallet=False) is NextStep.FAIL


def test_backoff_ceiling_grows_then_caps():
    """1, 2, 4, 8 … seconds, capped at 60."""
    p = BackoffPolicy()
    assert [p.ceiling(n) for n in (1, 2, 3, 4, 7, 8, 50, 5_000)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        60.0,
        60.0,
        60.0,
        60.0,
    ]


def test_backoff_is_reproducible_with_a_seeded_rng():
    """The same seed gives the same jitter."""
    p = BackoffPolicy()
    a = [p.delay(n, random.Random(7)) for n in range(1, 6)]
    b = [p.delay(n, random.Random(7)) for n in range(1, 6)]
    assert a == b


def test_backoff_honours_retry_after():
    """A provider's Retry-After is a floor on the delay."""
    p = BackoffPolicy()
    out = ProviderOutcome.transient(retry_after_seconds=30.0)
    assert p.delay_for(out, 1, random.Random(1)) == timedelta(seconds=30)
    assert p.delay_for(ProviderOutcome.transient(), 1, random.Random(1)) <= S


def test_backoff_exhausted_by_attempts_or_time():
    """Exhausted at max_attempts or max_elapsed, not before."""
    p = BackoffPolicy(max_attempts=3, max_elapsed_seconds=100)
    assert not p.exhausted(2, 99 * S)
    assert p.exhausted(3, 0 * S)
    assert p.exhausted(1, 100 * S)


@given(attempt=st.integers(min_value=1, max_value=10_000), seed=st.integers(0, 2**32))
def test_backoff_delay_within_zero_and_cap(attempt, seed):
    """Full jitter stays in [0, min(cap, base * factor^(n-1))]."""
    p = BackoffPolicy()
    delay = p.delay(attempt, random.Random(seed)).total_seconds()
    assert 0.0 <= delay <= p.ceiling(attempt) <= p.cap_seconds


def test_full_jitter_spreads_over_the_range():
    """Over many draws the jitter covers low and high parts of the window."""
    p = BackoffPolicy()
    rng = random.Random(3)
    draws = [p.delay(6, rng).total_seconds() for _ in range(500)]
    assert min(draws) < 4
    assert max(draws) > 28


def test_poll_schedule_first_three():
    """The first polls come at +10 s, +30 s and +60 s intervals."""
    assert poll_delay(0 * S, 0) == 10 * S
    assert poll_delay(10 * S, 1) == 30 * S
    assert poll_delay(40 * S, 2) == 60 * S
    assert poll_delay(100 * S, 3) == 60 * S


def test_poll_schedule_windows():
    """Every 60 s to 10 min, every 5 min to 2 h, every 30 min to 24 h."""
    assert poll_delay(timedelta(minutes=9), 12) == 60 * S
    assert poll_delay(timedelta(minutes=10), 13) == timedelta(minutes=5)
    assert poll_delay(timedelta(minutes=119), 30) == timedelta(minutes=5)
    assert poll_delay(timedelta(hours=2), 31) == timedelta(minutes=30)
    assert poll_delay(timedelta(hours=23, minutes=50), 70) == timedelta(minutes=10)


def test_poll_schedule_hands_over_after_24h():
    """From 24 h on, no more polls: manual reconciliation."""
    assert poll_delay(timedelta(hours=24), 80) is None
    assert poll_delay(timedelta(days=3), 0) is None


def test_poll_schedule_late_first_poll_uses_window_interval():
    """A first poll that starts late (after 10 min) follows the window schedule."""
    assert poll_delay(timedelta(minutes=30), 0) == timedelta(minutes=5)


def test_full_poll_schedule_simulation():
    """Simulating the schedule: 78 polls, the last exactly at 24 h."""
    elapsed, count = timedelta(0), 0
    while (step := poll_delay(elapsed, count)) is not None:
        assert step > timedelta(0)
        elapsed += step
        count += 1
    assert elapsed == timedelta(hours=24)
    # 3 first (to 100 s) + 9 x 60 s (to 640 s) + 22 x 5 min (to 7,240 s) + 44 x 30 min (clamped)
    assert count == 3 + 9 + 22 + 44


@pytest.mark.parametrize(
    "bad",
    [{"factor": 0.5}, {"base_seconds": -1.0}, {"max_attempts": 0}, {"cap_seconds": -1.0}],
)
def test_backoff_policy_rejects_nonsense(bad):
    """Settings that would shrink or break the backoff fail fast."""
    with pytest.raises(ValidationError):
        BackoffPolicy(**bad)
