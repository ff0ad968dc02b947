"""Fraud rules as pure functions over a payment amount and its risk signals.

`RiskSignals` is the contract with the RiskContext port. Each rule is a small
pure function `(amount_minor, signals, policy) -> RiskReason | None`; `assess`
runs them all, sums the scores and maps the total to allow / review / block.

Signals exclude the payment being assessed; the rules count it in (so "more
than 3 prompts in 10 minutes" blocks the 4th prompt).

Default thresholds are the SUGGESTED starting values of ghana-domain.md §9.3
(not sourced values; tune on real data) and the BoG KYC tier limits effective
2024-03-01 (§6). Every threshold is a `FraudPolicy` field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date
from typing import Any, Final

from attrs import frozen

from synccash.core.errors import ValidationError
from synccash.core.money import Money


class KycTier(enum.StrEnum):
    """Bank of Ghana wallet KYC tiers."""

    MINIMUM = "minimum"
    MEDIUM = "medium"
    ENHANCED = "enhanced"


# Bound once: an Enum class attribute look-up costs ~0.1 µs on Python 3.11.
_ENHANCED: Final = KycTier.ENHANCED
_MEDIUM: Final = KycTier.MEDIUM


@frozen
class RiskSignals:
    """Everything the fraud rules need to know about the world, read through the RiskContext port.

    Counts and sums cover payments by this payer (any state except FAILED before
    reaching a provider), excluding the payment being assessed.
    """

    payer_count_1h: int = 0
    payer_count_24h: int = 0
    payer_sum_24h: Money = Money(0)
    payer_sum_30d: Money = Money(0)
    payer_median_amount_30d: Money | None = None  # None: no history
    payee_known_to_payer: bool = False
    payer_blocklisted: bool = False
    payee_blocklisted: bool = False
    sim_swap_hours_ago: int | None = None  # None: no SIM-swap data or no recent swap
    prompts_to_payer_10m: int = 0
    prompts_to_payer_1h: int = 0
    distinct_new_payers_to_payee_1h: int = 0
    # The payer's tier is only known where a provider or the merchant tells us; until then
    # pre-check against the most permissive tier (the provider still enforces the real one
    # with PAYER_LIMIT_REACHED) rather than block every payment above GHS 3,000.
    kyc_tier: KycTier = KycTier.ENHANCED


class RiskDecision(enum.StrEnum):
    """What to do with the payment."""

    ALLOW = "allow"
    REVIEW = "review"  # proceed, flagged for a human
    BLOCK = "block"  # refuse before anything reaches a provider


@frozen
class RiskReason:
    """One triggered rule: a stable code, a message a merchant can act on, and its score."""

    code: str
    message: str
    score: int


@frozen
class RiskAssessment:
    """The outcome of every rule: total score, decision and the reasons that triggered."""

    score: int
    decision: RiskDecision
    reasons: tuple[RiskReason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """The triggered reason codes, in rule order."""
        return tuple(r.code for r in self.reasons)

    def explain(self) -> dict[str, Any]:
        """JSON-ready: score, decision and every triggered reason."""
        return {
            "score": self.score,
            "decision": self.decision.value,
            "reasons": [
                {"code": r.code, "message": r.message, "score": r.score} for r in self.reasons
            ],
        }


@frozen
class KycLimit:
    """Bank of Ghana limits for one wallet KYC tier (None: no limit)."""

    daily: Money
    monthly: Money | None
    max_balance: Money | None = None


@frozen
class KycLimits:
    """The limits of every tier, with the date they took effect."""

    minimum: KycLimit
    medium: KycLimit
    enhanced: KycLimit
    valid_from: str = ""  # ISO date, for the explanation only

    def for_tier(self, tier: KycTier) -> KycLimit:
        """The limits of one tier."""
        if tier is _ENHANCED:
            return self.enhanced
        if tier is _MEDIUM:
            return self.medium
        return self.minimum


#: BoG tiers effective 2024-03-01 (latest known; ghana-domain.md §6, H).
KYC_LIMITS_2024: Final = KycLimits(
    minimum=KycLimit(Money(300_000), Money(1_000_000), Money(500_000)),
    medium=KycLimit(Money(1_500_000), None, Money(4_000_000)),
    enhanced=KycLimit(Money(2_500_000), None, Money(7_500_000)),
    valid_from="2024-03-01",
)

#: Earlier BoG tiers (ghana-domain.md §6), newest last; the 2020-2024 row's date is unknown.
KYC_LIMITS_HISTORY: Final = (
    KycLimits(
        KycLimit(Money(30_000), Money(300_000), Money(100_000)),
        KycLimit(Money(200_000), Money(2_000_000), Money(1_000_000)),
        KycLimit(Money(500_000), Money(5_000_000), Money(2_000_000)),
        valid_from="2015-07-06",
    ),
    KycLimits(
        KycLimit(Money(100_000), Money(600_000), Money(200_000)),
        KycLimit(Money(500_000), None, Money(1_500_000)),
        KycLimit(Money(1_000_000), None, Money(3_000_000)),
        valid_from="2020-03-20",
    ),
    KYC_LIMITS_2024,
)


def kyc_limits_on(day: date) -> KycLimits:
    """The BoG tier limits in force on a day (the earliest known set before 2015-07-06)."""
    iso = day.isoformat()
    current = KYC_LIMITS_HISTORY[0]
    for limits in KYC_LIMITS_HISTORY:
        if limits.valid_from <= iso:
            current = limits
    return current


@frozen
class FraudPolicy:
    """Every threshold and score of the fraud rules.

    Scores add up; the total maps to a decision by `review_score` and
    `block_score`. With the defaults one hard rule blocks, one soft rule
    reviews, and three soft rules together block.
    """

    # hard rules (block)
    sim_swap_hold_hours: int = 48
    prompt_storm_max_10m: int = 3  # more than this many prompts (this one included) blocks
    prompt_storm_max_1h: int = 5
    kyc_limits: KycLimits = KYC_LIMITS_2024
    # soft rules (review)
    velocity_max_count_24h: int = 10
    velocity_max_sum_24h: Money = Money(500_000)
    fan_in_min_new_payers_1h: int = 5
    spike_multiple: int = 5
    spike_min_amount: Money = Money(100_000)
    new_payee_max_amount: Money = Money(100_000)
    # scoring
    hard_score: int = 100
    soft_score: int = 40
    review_score: int = 40
    block_score: int = 100

    def __attrs_post_init__(self) -> None:
        if not 0 < self.review_score <= self.block_score:
            raise ValidationError(
                "fraud policy needs 0 < review_score <= block_score", code="invalid_policy"
            )


DEFAULT_FRAUD_POLICY: Final = FraudPolicy()

Rule = Callable[[int, RiskSignals, FraudPolicy], RiskReason | None]


def _ghs(minor: int) -> str:
    return Money(minor).to_decimal_string()


def blocklisted(_amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """Payer or payee MSISDN on a blocklist."""
    if s.payer_blocklisted or s.payee_blocklisted:
        who = "payer" if s.payer_blocklisted else "payee"
        if s.payer_blocklisted and s.payee_blocklisted:
            who = "payer and payee"
        return RiskReason("blocklisted", f"the {who} is on a blocklist", p.hard_score)
    return None


def sim_swap_hold(_amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """The payer's SIM was swapped recently: hold debits (Act 987 s.34(3), BoG directive)."""
    hours = s.sim_swap_hours_ago
    if hours is not None and hours < p.sim_swap_hold_hours:
        return RiskReason(
            "sim_swap_hold",
            f"the payer's SIM was swapped {hours} h ago; debits are held for "
            f"{p.sim_swap_hold_hours} h",
            p.hard_score,
        )
    return None


def prompt_storm(_amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """Too many approval prompts to the same payer: stops approval-prompt bombing."""
    in_10m, in_1h = s.prompts_to_payer_10m + 1, s.prompts_to_payer_1h + 1
    if in_10m > p.prompt_storm_max_10m or in_1h > p.prompt_storm_max_1h:
        return RiskReason(
            "prompt_storm",
            f"this would be prompt {in_10m} in 10 min / {in_1h} in 1 h to this payer "
            f"(limits {p.prompt_storm_max_10m} / {p.prompt_storm_max_1h}); try again later",
            p.hard_score,
        )
    return None


def kyc_daily_limit(amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """The payer's rolling 24 h total would exceed the BoG daily limit of their KYC tier."""
    limit = p.kyc_limits.for_tier(s.kyc_tier).daily.minor
    total = s.payer_sum_24h.minor + amount
    if total > limit:
        return RiskReason(
            "kyc_daily_limit",
            f"GHS {_ghs(total)} in 24 h exceeds the {s.kyc_tier.value} KYC daily limit of "
            f"GHS {_ghs(limit)}; the payer can upgrade their wallet KYC or pay less",
            p.hard_score,
        )
    return None


def kyc_monthly_limit(amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """The payer's rolling 30-day total would exceed the BoG monthly limit of their tier."""
    monthly = p.kyc_limits.for_tier(s.kyc_tier).monthly
    if monthly is None:
        return None
    total = s.payer_sum_30d.minor + amount
    if total > monthly.minor:
        return RiskReason(
            "kyc_monthly_limit",
            f"GHS {_ghs(total)} in 30 days exceeds the {s.kyc_tier.value} KYC monthly limit "
            f"of GHS {monthly.to_decimal_string()}",
            p.hard_score,
        )
    return None


def payer_velocity(amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """Many payments or a large value by one payer in 24 h."""
    count = s.payer_count_24h + 1
    total = s.payer_sum_24h.minor + amount
    if count > p.velocity_max_count_24h or total > p.velocity_max_sum_24h.minor:
        return RiskReason(
            "payer_velocity",
            f"{count} payments / GHS {_ghs(total)} by this payer in 24 h (review above "
            f"{p.velocity_max_count_24h} / GHS {p.velocity_max_sum_24h.to_decimal_string()})",
            p.soft_score,
        )
    return None


def payee_fan_in(_amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """Many distinct new payers into one payee in an hour (mule pattern)."""
    new_payers = s.distinct_new_payers_to_payee_1h + (0 if s.payee_known_to_payer else 1)
    if new_payers >= p.fan_in_min_new_payers_1h:
        return RiskReason(
            "payee_fan_in",
            f"{new_payers} distinct new payers into this payee in 1 h "
            f"(review from {p.fan_in_min_new_payers_1h})",
            p.soft_score,
        )
    return None


def amount_spike(amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """Far above the payer's usual amount, and large."""
    median = s.payer_median_amount_30d
    if median is None or amount <= p.spike_min_amount.minor:
        return None
    if amount > p.spike_multiple * median.minor:
        return RiskReason(
            "amount_spike",
            f"GHS {_ghs(amount)} is more than {p.spike_multiple}x the payer's 30-day median "
            f"of GHS {median.to_decimal_string()}",
            p.soft_score,
        )
    return None


def new_payee_high_value(amount: int, s: RiskSignals, p: FraudPolicy) -> RiskReason | None:
    """A first payment to this payee above the high-value threshold."""
    if not s.payee_known_to_payer and amount > p.new_payee_max_amount.minor:
        return RiskReason(
            "new_payee_high_value",
            f"first payment to this payee and above GHS "
            f"{p.new_payee_max_amount.to_decimal_string()}",
            p.soft_score,
        )
    return None


#: Every rule, in the order reasons are reported.
RULES: Final[tuple[Rule, ...]] = (
    blocklisted,
    sim_swap_hold,
    prompt_storm,
    kyc_daily_limit,
    kyc_monthly_limit,
    payer_velocity,
    payee_fan_in,
    amount_spike,
    new_payee_high_value,
)


def decide(score: int, policy: FraudPolicy = DEFAULT_FRAUD_POLICY) -> RiskDecision:
    """Map a total score to a decision."""
    if score >= policy.block_score:
        return RiskDecision.BLOCK
    if score >= policy.review_score:
        return RiskDecision.REVIEW
    return RiskDecision.ALLOW


_ALLOW: Final = RiskAssessment(0, RiskDecision.ALLOW, ())


def assess(
    amount: Money, signals: RiskSignals, policy: FraudPolicy = DEFAULT_FRAUD_POLICY
) -> RiskAssessment:
    """Run every rule on a payment of `amount` and decide allow / review / block."""
    minor = amount.minor
    found: list[RiskReason] | None = None  # a plain loop: no generator frame per payment
    for rule in RULES:
        reason = rule(minor, signals, policy)
        if reason is not None:
            if found is None:
                found = []
            found.append(reason)
    if found is None:
        return _ALLOW  # review_score > 0 is enforced by FraudPolicy
    score = sum(r.score for r in found)
    return RiskAssessment(score, decide(score, policy), tuple(found))
