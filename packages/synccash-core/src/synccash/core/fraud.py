"""Fraud rules as pure functions over a payment and its risk signals.

(The rules themselves are being written; `RiskSignals` is the contract with the
RiskContext port and is stable.)
"""

from __future__ import annotations

import enum

from attrs import frozen

from synccash.core.money import Money


class KycTier(enum.StrEnum):
    """Bank of Ghana wallet KYC tiers."""

    MINIMUM = "minimum"
    MEDIUM = "medium"
    ENHANCED = "enhanced"


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
    kyc_tier: KycTier = KycTier.MINIMUM
