"""What routing can infer about balances it is not told: insufficient-funds answers are evidence.

A merchant passes a wallet's balance when it knows it (routing then filters or trusts
it). For the other wallets, `FundsTracker` learns from outcomes how often a wallet at a
provider holds enough for an amount: every attempt on a wallet of unknown balance that
got past the provider's funds check (confirmed, or declined by the payer) is one
"enough" sample, every `INSUFFICIENT_FUNDS` answer one "not enough" sample, per
provider and amount band (bands double: under GHS 5, 5-10, 10-20, ...). Estimates are
Beta posteriors shrunk towards the provider's, and the provider's towards the prior.
Pure: the caller feeds it and passes its snapshot to the router.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from attrs import define, field, frozen

from synccash.core.errors import ValidationError
from synccash.core.providers import ProviderId
from synccash.core.reliability import SuccessEstimate

_BAND_BASE_MINOR: Final = 500  # band 0: under GHS 5; each band above doubles


def amount_band(amount_minor: int) -> int:
    """The amount's band: 0 below GHS 5, then one per doubling (5-10 is 1, 10-20 is 2, ...)."""
    return max(0, amount_minor // _BAND_BASE_MINOR).bit_length()


@frozen
class FundsEvidence:
    """A snapshot of what the tracker learnt: P(an unknown balance covers an amount)."""

    prior: float = 0.85
    prior_weight: float = 10.0
    band_weight: float = 10.0
    counts: Mapping[tuple[ProviderId, int], tuple[int, int]] = field(factory=dict, hash=False)
    totals: Mapping[ProviderId, tuple[int, int]] = field(factory=dict, hash=False)

    def estimate(self, provider: ProviderId, amount_minor: int) -> SuccessEstimate:
        """P(a wallet at `provider` with an unknown balance holds `amount_minor` + fees)."""
        enough, short = self.totals.get(provider, (0, 0))
        overall = SuccessEstimate.posterior(enough, short, self.prior, self.prior_weight)
        enough, short = self.counts.get((provider, amount_band(amount_minor)), (0, 0))
        return SuccessEstimate.posterior(enough, short, overall.mean, self.band_weight)


@define
class FundsTracker:
    """Learns `FundsEvidence` from attempts on wallets whose balance routing was not told."""

    prior: float = 0.85
    prior_weight: float = 10.0
    band_weight: float = 10.0
    _counts: dict[tuple[ProviderId, int], list[int]] = field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        if not 0.0 < self.prior < 1.0 or self.prior_weight <= 0 or self.band_weight < 0:
            raise ValidationError(
                "funds prior must be in (0, 1) and its weights positive", code="invalid_policy"
            )

    def record(self, provider: ProviderId, amount_minor: int, *, enough: bool) -> None:
        """One answer past (enough) or at (not enough) the provider's funds check."""
        pair = self._counts.setdefault((provider, amount_band(amount_minor)), [0, 0])
        pair[0 if enough else 1] += 1

    def snapshot(self) -> FundsEvidence:
        """The evidence so far, for the router."""
        counts = {key: (pair[0], pair[1]) for key, pair in self._counts.items()}
        totals: dict[ProviderId, tuple[int, int]] = {}
        for (provider, _), (enough, short) in counts.items():
            old = totals.get(provider, (0, 0))
            totals[provider] = (old[0] + enough, old[1] + short)
        return FundsEvidence(self.prior, self.prior_weight, self.band_weight, counts, totals)
