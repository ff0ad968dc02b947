"""The expected cost of an attempt chain, its ordering rule, and funds evidence."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.balances import FundsEvidence, FundsTracker, amount_band
from synccash.core.chain import (
    ChainStep,
    expected_cost,
    expected_prompts,
    failure_probability,
    step_index,
)
from synccash.core.errors import ValidationError
from synccash.core.providers import ProviderId


def test_expected_cost_by_hand():
    """Two steps: λ + s1 fee1 + (1 - s1)(λ + s2 fee2) + penalty (1 - s1)(1 - s2)."""
    steps = [ChainStep(0.9, 75), ChainStep(0.5, 0)]
    expected = 10 + 0.9 * 75 + 0.1 * (10 + 0.5 * 0) + 1_000 * 0.1 * 0.5
    assert expected == pytest.approx(expected_cost(steps, 10, 1_000))
    assert expected_prompts(steps) == pytest.approx(1.1)
    assert failure_probability(steps) == pytest.approx(0.05)
    assert expected_cost([], 10, 1_000) == 1_000


def test_a_step_that_cannot_succeed_has_an_infinite_index():
    """Success 0: never worth a prompt, whatever the fee."""
    assert step_index(ChainStep(0.0, 0), 10) == float("inf")
    assert step_index(ChainStep(0.5, 75), 10) == 95


steps_st = st.lists(
    st.builds(ChainStep, st.floats(0.01, 1.0), st.integers(0, 1_000)), min_size=1, max_size=5
)


@given(steps=steps_st, lam=st.integers(0, 500), penalty=st.floats(0, 50_000))
def test_sorting_by_index_is_the_cheapest_order_of_every_wallet(steps, lam, penalty):
    """No permutation of the same steps has a lower expected cost than the index order."""
    by_index = sorted(steps, key=lambda s: step_index(s, lam))
    best = min(expected_cost(list(p), lam, penalty) for p in itertools.permutations(steps))
    assert expected_cost(by_index, lam, penalty) == pytest.approx(best, rel=1e-9, abs=1e-6)


@given(steps=steps_st, lam=st.integers(0, 500), penalty=st.floats(0, 50_000))
def test_appending_a_step_pays_exactly_when_its_index_is_below_the_penalty(steps, lam, penalty):
    """The last step lowers the expected cost iff fee + λ / s < penalty."""
    head, last = steps[:-1], steps[-1]
    gain = expected_cost(head, lam, penalty) - expected_cost(steps, lam, penalty)
    if step_index(last, lam) < penalty - 1e-6:
        assert gain > -1e-6
    elif step_index(last, lam) > penalty + 1e-6:
        assert gain < 1e-6


def test_amount_bands_double():
    """Under GHS 5 is band 0; 5-10 band 1; 10-20 band 2; 400 falls in band 7."""
    assert [amount_band(m) for m in (0, 499, 500, 999, 1_000, 40_000)] == [0, 0, 1, 1, 2, 7]


def test_funds_evidence_starts_at_the_prior_and_learns_per_provider_and_band():
    """No answers: the prior. Insufficient answers at one band pull that band down most."""
    assert FundsEvidence().estimate(ProviderId.MTN, 10_000).mean == pytest.approx(0.85)
    tracker = FundsTracker()
    for _ in range(30):
        tracker.record(ProviderId.AIRTELTIGO, 50_000, enough=False)
    evidence = tracker.snapshot()
    at_big = evidence.estimate(ProviderId.AIRTELTIGO, 50_000).mean
    at_small = evidence.estimate(ProviderId.AIRTELTIGO, 1_000).mean
    mtn = evidence.estimate(ProviderId.MTN, 50_000).mean
    assert at_big < at_small < mtn == pytest.approx(0.85)
    assert at_big < 0.2


def test_funds_tracker_rejects_a_prior_that_cannot_learn():
    """A prior of 0 or 1 could never move; it is refused."""
    with pytest.raises(ValidationError):
        FundsTracker(prior=1.0)
