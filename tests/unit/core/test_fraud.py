"""Fraud rules: each triggers at its threshold and stays silent below it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import ValidationError
from synccash.core.fraud import (
    DEFAULT_FRAUD_POLICY,
    KYC_LIMITS_2024,
    RULES,
    FraudPolicy,
    KycTier,
    RiskDecision,
    RiskSignals,
    assess,
    decide,
    kyc_limits_on,
)
from synccash.core.money import Money, ghs

QUIET = RiskSignals(payee_known_to_payer=True, kyc_tier=KycTier.MINIMUM)


def codes(amount: str, signals: RiskSignals, policy: FraudPolicy = DEFAULT_FRAUD_POLICY):
    return assess(ghs(amount), signals, policy).codes


def test_quiet_payment_is_allowed():
    """A small payment to a known payee with no history triggers nothing."""
    result = assess(ghs("50"), QUIET)
    assert result.decision is RiskDecision.ALLOW
    assert result.score == 0
    assert result.reasons == ()


@pytest.mark.parametrize(
    ("signals", "who"),
    [
        (evolve(QUIET, payer_blocklisted=True), "payer"),
        (evolve(QUIET, payee_blocklisted=True), "payee"),
        (evolve(QUIET, payer_blocklisted=True, payee_blocklisted=True), "payer and payee"),
    ],
)
def test_blocklisted_blocks(signals, who):
    """A blocklisted payer or payee blocks, and the message says which."""
    result = assess(ghs("10"), signals)
    assert result.decision is RiskDecision.BLOCK
    assert result.codes == ("blocklisted",)
    assert who in result.reasons[0].message


@pytest.mark.parametrize(("hours", "blocked"), [(0, True), (47, True), (48, False), (500, False)])
def test_sim_swap_hold(hours, blocked):
    """A SIM swap less than 48 h ago blocks; 48 h or more does not."""
    result = assess(ghs("10"), evolve(QUIET, sim_swap_hours_ago=hours))
    assert ("sim_swap_hold" in result.codes) is blocked
    assert (result.decision is RiskDecision.BLOCK) is blocked


def test_sim_swap_unknown_is_silent():
    """No SIM-swap data means no hold."""
    assert "sim_swap_hold" not in codes("10", QUIET)


@pytest.mark.parametrize(
    ("in_10m", "in_1h", "blocked"),
    [(2, 2, False), (3, 3, True), (2, 4, False), (2, 5, True), (0, 0, False)],
)
def test_prompt_storm(in_10m, in_1h, blocked):
    """The 4th prompt in 10 min or the 6th in 1 h is blocked (prior prompts + this one)."""
    signals = evolve(QUIET, prompts_to_payer_10m=in_10m, prompts_to_payer_1h=in_1h)
    result = assess(ghs("10"), signals)
    assert ("prompt_storm" in result.codes) is blocked
    assert (result.decision is RiskDecision.BLOCK) is blocked


@pytest.mark.parametrize(
    ("tier", "sent", "amount", "blocked"),
    [
        (KycTier.MINIMUM, "2900", "100", False),
        (KycTier.MINIMUM, "2900", "100.01", True),
        (KycTier.MEDIUM, "14000", "1000", False),
        (KycTier.MEDIUM, "14000", "1000.01", True),
        (KycTier.ENHANCED, "24000", "1000", False),
        (KycTier.ENHANCED, "24000", "1000.01", True),
    ],
)
def test_kyc_daily_limit(tier, sent, amount, blocked):
    """BoG 2024 daily limits: 3,000 / 15,000 / 25,000 per tier."""
    policy = evolve(DEFAULT_FRAUD_POLICY, velocity_max_sum_24h=ghs("1000000"))
    signals = evolve(QUIET, kyc_tier=tier, payer_sum_24h=ghs(sent))
    result = assess(ghs(amount), signals, policy)
    assert ("kyc_daily_limit" in result.codes) is blocked
    assert (result.decision is RiskDecision.BLOCK) is blocked


def test_kyc_monthly_limit_minimum_tier_only():
    """Minimum KYC: 10,000 a month; medium has no monthly limit."""
    over = evolve(QUIET, payer_sum_30d=ghs("9950"))
    assert "kyc_monthly_limit" in codes("50.01", over)
    assert "kyc_monthly_limit" not in codes("50", over)
    medium = evolve(over, kyc_tier=KycTier.MEDIUM, payer_sum_30d=ghs("500000"))
    assert "kyc_monthly_limit" not in codes("50.01", medium)


def test_kyc_message_is_actionable():
    """The KYC reason names the tier, the limit and what the payer can do."""
    result = assess(ghs("3500"), QUIET)
    reason = next(r for r in result.reasons if r.code == "kyc_daily_limit")
    assert "minimum" in reason.message
    assert "3000.00" in reason.message
    assert "upgrade" in reason.message


@pytest.mark.parametrize(
    ("count", "sent", "amount", "flagged"),
    [
        (9, "0", "10", False),
        (10, "0", "10", True),
        (0, "1900", "100", False),
        (0, "1900", "100.01", False),  # 2,000.01 is below 5,000
    ],
)
def test_payer_velocity_count(count, sent, amount, flagged):
    """The 11th payment in 24 h is reviewed."""
    signals = evolve(QUIET, payer_count_24h=count, payer_sum_24h=ghs(sent))
    assert ("payer_velocity" in codes(amount, signals)) is flagged


def test_payer_velocity_value():
    """More than GHS 5,000 in 24 h is reviewed (enhanced tier, so KYC stays silent)."""
    signals = evolve(QUIET, kyc_tier=KycTier.ENHANCED, payer_sum_24h=ghs("4900"))
    assert "payer_velocity" not in codes("100", signals)
    result = assess(ghs("100.01"), signals)
    assert result.codes == ("payer_velocity",)
    assert result.decision is RiskDecision.REVIEW


@pytest.mark.parametrize(
    ("prior", "known", "flagged"),
    [(3, False, False), (4, False, True), (4, True, False), (5, True, True)],
)
def test_payee_fan_in(prior, known, flagged):
    """5 distinct new payers (this one counted if new) into one payee in 1 h is reviewed."""
    signals = evolve(QUIET, distinct_new_payers_to_payee_1h=prior, payee_known_to_payer=known)
    assert ("payee_fan_in" in codes("10", signals)) is flagged


@pytest.mark.parametrize(
    ("median", "amount", "flagged"),
    [
        ("100", "1000", False),  # > 5x median but not > 1,000
        ("100", "1000.01", True),
        ("300", "1500", False),  # exactly 5x is not more than 5x
        ("300", "1500.01", True),
        ("1000", "2000", False),
    ],
)
def test_amount_spike(median, amount, flagged):
    """More than 5x the 30-day median and more than GHS 1,000 is reviewed."""
    signals = evolve(QUIET, payer_median_amount_30d=ghs(median))
    assert ("amount_spike" in codes(amount, signals)) is flagged


def test_amount_spike_needs_history():
    """Without a median (no history) the spike rule is silent."""
    assert "amount_spike" not in codes("2000", QUIET)


@pytest.mark.parametrize(
    ("known", "amount", "flagged"),
    [(False, "1000", False), (False, "1000.01", True), (True, "2000", False)],
)
def test_new_payee_high_value(known, amount, flagged):
    """A first payment to a payee above GHS 1,000 is reviewed."""
    signals = evolve(QUIET, payee_known_to_payer=known)
    assert ("new_payee_high_value" in codes(amount, signals)) is flagged


def test_soft_rules_add_up_to_block():
    """Three soft signals together block with the default scores."""
    signals = RiskSignals(
        payer_count_24h=20, payer_median_amount_30d=ghs("10"), payee_known_to_payer=False
    )
    result = assess(ghs("1500"), signals)
    assert set(result.codes) == {"payer_velocity", "amount_spike", "new_payee_high_value"}
    assert result.score == 120
    assert result.decision is RiskDecision.BLOCK


def test_two_soft_rules_review():
    """Two soft signals review."""
    signals = RiskSignals(payer_median_amount_30d=ghs("10"), payee_known_to_payer=False)
    result = assess(ghs("1500"), signals)
    assert result.score == 80
    assert result.decision is RiskDecision.REVIEW


def test_thresholds_are_configurable():
    """A stricter policy triggers where the default is silent."""
    strict = FraudPolicy(new_payee_max_amount=ghs("100"), sim_swap_hold_hours=72)
    signals = evolve(QUIET, payee_known_to_payer=False, sim_swap_hours_ago=60)
    assert codes("150", signals) == ()
    assert codes("150", signals, strict) == ("sim_swap_hold", "new_payee_high_value")


def test_decide_thresholds():
    """Scores map to allow / review / block at the configured cut-offs."""
    assert decide(39) is RiskDecision.ALLOW
    assert decide(40) is RiskDecision.REVIEW
    assert decide(99) is RiskDecision.REVIEW
    assert decide(100) is RiskDecision.BLOCK


def test_explain_is_json_ready():
    """The explanation carries score, decision and each reason."""
    result = assess(ghs("10"), evolve(QUIET, payer_blocklisted=True))
    explained = result.explain()
    assert json.loads(json.dumps(explained)) == {
        "score": 100,
        "decision": "block",
        "reasons": [
            {"code": "blocklisted", "message": "the payer is on a blocklist", "score": 100}
        ],
    }


def test_rules_are_all_run():
    """Every rule is registered (codes are stable)."""
    assert [r.__name__ for r in RULES] == [
        "blocklisted",
        "sim_swap_hold",
        "prompt_storm",
        "kyc_daily_limit",
        "kyc_monthly_limit",
        "payer_velocity",
        "payee_fan_in",
        "amount_spike",
        "new_payee_high_value",
    ]


signals_strategy = st.builds(
    RiskSignals,
    payer_count_1h=st.integers(0, 50),
    payer_count_24h=st.integers(0, 50),
    payer_sum_24h=st.integers(0, 5_000_000).map(Money),
    payer_sum_30d=st.integers(0, 20_000_000).map(Money),
    payer_median_amount_30d=st.none() | st.integers(0, 1_000_000).map(Money),
    payee_known_to_payer=st.booleans(),
    payer_blocklisted=st.booleans(),
    payee_blocklisted=st.booleans(),
    sim_swap_hours_ago=st.none() | st.integers(0, 500),
    prompts_to_payer_10m=st.integers(0, 10),
    prompts_to_payer_1h=st.integers(0, 20),
    distinct_new_payers_to_payee_1h=st.integers(0, 20),
    kyc_tier=st.sampled_from(list(KycTier)),
)


@given(amount=st.integers(1, 5_000_000).map(Money), signals=signals_strategy)
def test_assessment_is_consistent(amount, signals):
    """The score is the sum of reasons and the decision follows the score."""
    result = assess(amount, signals)
    assert result.score == sum(r.score for r in result.reasons)
    assert result.decision is decide(result.score)
    assert len(set(result.codes)) == len(result.codes)
    if signals.payer_blocklisted or signals.payee_blocklisted:
        assert result.decision is RiskDecision.BLOCK


@given(amount=st.integers(1, 5_000_000), extra=st.integers(1, 1_000_000), signals=signals_strategy)
def test_larger_amounts_never_lower_the_score(amount, extra, signals):
    """Raising the amount never removes a reason (all thresholds are monotone)."""
    low = assess(Money(amount), signals)
    high = assess(Money(amount + extra), signals)
    assert set(low.codes) <= set(high.codes)


def test_kyc_limits_history_by_day():
    """The tier table in force follows the BoG dates (2015, 2020, 2024-03-01)."""
    assert kyc_limits_on(date(2024, 3, 1)) is KYC_LIMITS_2024
    assert ghs("3000") == kyc_limits_on(date(2024, 3, 1)).minimum.daily
    assert ghs("1000") == kyc_limits_on(date(2024, 2, 29)).minimum.daily
    assert ghs("300") == kyc_limits_on(date(2020, 3, 19)).minimum.daily
    assert ghs("300") == kyc_limits_on(date(2010, 1, 1)).minimum.daily
    assert kyc_limits_on(date(2026, 1, 1)).enhanced.monthly is None


def test_policy_with_older_kyc_limits():
    """A policy built with the 2020 limits blocks what the 2024 limits allow."""
    old = FraudPolicy(kyc_limits=kyc_limits_on(date(2021, 1, 1)))
    assert "kyc_daily_limit" in codes("1500", QUIET, old)
    assert "kyc_daily_limit" not in codes("1500", QUIET)


@pytest.mark.parametrize(("review", "block"), [(0, 100), (50, 40), (-1, 10)])
def test_fraud_policy_rejects_inverted_scores(review, block):
    """review_score must be positive and not above block_score."""
    with pytest.raises(ValidationError):
        FraudPolicy(review_score=review, block_score=block)
