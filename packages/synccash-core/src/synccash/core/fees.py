"""Fee quotes: effective-dated provider tariffs, levies (the E-Levy history) and a platform fee.

Money math is integer only. Rates are integer basis points (1 bp = 0.01 %), so
`amount * rate` is the exact rational `amount_minor * bps / 10 000`.

**Rounding rule (the only one):** every computed fee or levy component is
rounded to whole pesewas *half up* on that exact rational (0.5 pesewa → 1
pesewa), then clamped by its min/max caps. Caps and flat amounts are already
whole pesewas. Regulatory percentage ceilings (`max_rate_bps`) round *down*,
so a fee never exceeds the ceiling.

Seed values come from shared/reference/ghana-domain.md sections 4, 5 and 11;
every one is configurable by building a `FeeBook` from your own schedules.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Final, NamedTuple

from attrs import field, frozen

from synccash.core.errors import DomainError, InvalidAmount, UnsupportedCurrency, ValidationError
from synccash.core.money import Money
from synccash.core.providers import ProviderId

ROUNDING_RULE: Final = "half_up_to_pesewa_on_exact_rational"
_BPS: Final = 10_000
_ZERO: Final = Money(0)
_CompiledBand = tuple[int | None, int, int, int, int | None]  # up_to, bps, flat, min, max


class TransferKind(enum.StrEnum):
    """What kind of transfer a payment is, for tariffs and levies."""

    SAME_NETWORK = "same_network"
    CROSS_NETWORK = "cross_network"  # via the GhIPSS mobile-money interoperability switch
    MERCHANT_PAYMENT = "merchant_payment"  # to a registered merchant account
    DISBURSEMENT = "disbursement"  # merchant → wallet payout


class Confidence(enum.StrEnum):
    """How well a seed value is sourced (the reference doc's H/M/L)."""

    HIGH = "H"
    MEDIUM = "M"
    LOW = "L"


class FeeRuleMissing(DomainError):
    """No fee rule covers this provider, transfer kind and date."""

    code = "fee_rule_missing"


class InvalidFeeSchedule(ValidationError):
    """A fee schedule that cannot be used as given (overlapping dates, negative values)."""

    code = "invalid_fee_schedule"


def round_half_up(numerator: int, denominator: int) -> int:
    """Round the non-negative rational numerator/denominator to an integer, half up."""
    return (2 * numerator + denominator) // (2 * denominator)


def percent_of(amount_minor: int, rate_bps: int) -> int:
    """`rate_bps` basis points of an amount in pesewas, by the one rounding rule."""
    return round_half_up(amount_minor * rate_bps, _BPS)


def _covers(valid_from: date, valid_to: date | None, on: date) -> bool:
    return valid_from <= on and (valid_to is None or on < valid_to)


@frozen
class FeeBand:
    """One price band: `clamp(flat + rate * amount, min_fee, max_fee)` for amounts up to `up_to`.

    `up_to` is inclusive; None means no upper bound (the last band).
    """

    up_to: Money | None = None
    rate_bps: int = 0
    flat: Money = _ZERO
    min_fee: Money = _ZERO
    max_fee: Money | None = None

    def __attrs_post_init__(self) -> None:
        if self.rate_bps < 0 or self.flat.minor < 0 or self.min_fee.minor < 0:
            raise InvalidFeeSchedule("fee band values must not be negative")
        if self.max_fee is not None and self.max_fee < self.min_fee:
            raise InvalidFeeSchedule("fee band max_fee is below min_fee")

    def fee_minor(self, amount_minor: int) -> int:
        """The band's fee for an amount, in pesewas."""
        fee = self.flat.minor + percent_of(amount_minor, self.rate_bps)
        fee = max(fee, self.min_fee.minor)
        if self.max_fee is not None:
            fee = min(fee, self.max_fee.minor)
        return fee


@frozen
class FeeRule:
    """A tariff valid from `valid_from` (inclusive) to `valid_to` (exclusive; None = open)."""

    id: str
    valid_from: date
    valid_to: date | None
    bands: tuple[FeeBand, ...]
    max_rate_bps: int | None = None  # regulatory ceiling as a share of the amount (MMI 1.5 %)
    confidence: Confidence = Confidence.MEDIUM
    source: str = ""
    _compiled: tuple[_CompiledBand, ...] = field(init=False, eq=False, repr=False)
    is_free: bool = field(init=False, eq=False, repr=False)  # charges nothing at any amount

    @_compiled.default
    def _compile(self) -> tuple[_CompiledBand, ...]:
        """The bands as plain ints (every fee quote reads them)."""
        return tuple(
            (
                None if b.up_to is None else b.up_to.minor,
                b.rate_bps,
                b.flat.minor,
                b.min_fee.minor,
                None if b.max_fee is None else b.max_fee.minor,
            )
            for b in self.bands
        )

    @is_free.default
    def _charges_nothing(self) -> bool:
        return all(c[1:] == (0, 0, 0, None) for c in self._compiled)

    def __attrs_post_init__(self) -> None:
        if not self.bands:
            raise InvalidFeeSchedule(f"fee rule {self.id!r} has no bands")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise InvalidFeeSchedule(f"fee rule {self.id!r} ends before it starts")
        if any(b.up_to is None for b in self.bands[:-1]) or self.bands[-1].up_to is not None:
            raise InvalidFeeSchedule(f"fee rule {self.id!r}: only the last band is open-ended")

    @classmethod
    def percentage(
        cls,
        id: str,  # noqa: A002 - the rule id is called id everywhere else
        rate_bps: int,
        *,
        valid_from: date,
        valid_to: date | None = None,
        min_fee: Money = _ZERO,
        max_fee: Money | None = None,
        flat: Money = _ZERO,
        max_rate_bps: int | None = None,
        confidence: Confidence = Confidence.MEDIUM,
        source: str = "",
    ) -> FeeRule:
        """A single-band rule: `clamp(flat + rate * amount, min_fee, max_fee)`."""
        band = FeeBand(None, rate_bps, flat, min_fee, max_fee)
        return cls(id, valid_from, valid_to, (band,), max_rate_bps, confidence, source)

    @classmethod
    def free(
        cls,
        id: str,  # noqa: A002
        *,
        valid_from: date,
        valid_to: date | None = None,
        confidence: Confidence = Confidence.MEDIUM,
        source: str = "",
    ) -> FeeRule:
        """A rule that charges nothing."""
        return cls(id, valid_from, valid_to, (FeeBand(),), None, confidence, source)

    def covers(self, on: date) -> bool:
        """True if the rule is in force on that day."""
        return _covers(self.valid_from, self.valid_to, on)

    def fee_minor(self, amount_minor: int) -> int:
        """The fee for an amount, in pesewas (band, caps, then the regulatory ceiling)."""
        # Hot path (every routing candidate): plain ints, no Money objects.
        for up_to, rate_bps, flat, min_fee, max_fee in self._compiled:
            if up_to is None or amount_minor <= up_to:
                fee = flat + (2 * amount_minor * rate_bps + _BPS) // (2 * _BPS)
                fee = max(fee, min_fee)
                if max_fee is not None and fee > max_fee:
                    fee = max_fee
                break
        else:  # pragma: no cover - the last band is open-ended by construction
            fee = 0
        if self.max_rate_bps is not None:
            fee = min(fee, amount_minor * self.max_rate_bps // _BPS)
        return fee


def _check_no_overlap(name: str, spans: Sequence[tuple[date, date | None]]) -> None:
    ordered = sorted(spans, key=lambda s: s[0])
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if end is None or start < end:
            raise InvalidFeeSchedule(f"{name}: effective-dated rules overlap at {start}")


@frozen
class FeeSchedule:
    """The effective-dated tariff history of one provider for one transfer kind (payer side)."""

    provider: ProviderId
    kind: TransferKind
    rules: tuple[FeeRule, ...]

    def __attrs_post_init__(self) -> None:
        _check_no_overlap(
            f"{self.provider}/{self.kind}", [(r.valid_from, r.valid_to) for r in self.rules]
        )

    def rule_on(self, on: date) -> FeeRule | None:
        """The rule in force on that day, if any."""
        for rule in self.rules:
            if rule.covers(on):
                return rule
        return None


#: Kinds that are not taxable payer transfers (Act 1075 Second Schedule; payouts are not P2P).
LEVY_EXEMPT_KINDS: Final = frozenset({TransferKind.MERCHANT_PAYMENT, TransferKind.DISBURSEMENT})


@frozen
class LevyRule:
    """A transfer levy in force from `valid_from` to `valid_to` (exclusive).

    The first `daily_exempt` of a payer's cumulative day total is untaxed; only
    the excess above it is taxed (GRA worked example: 150 first → 1.5 % * 50).
    """

    id: str
    valid_from: date
    valid_to: date | None
    rate_bps: int
    daily_exempt: Money = _ZERO
    exempt_kinds: frozenset[TransferKind] = LEVY_EXEMPT_KINDS
    confidence: Confidence = Confidence.HIGH
    source: str = ""

    def __attrs_post_init__(self) -> None:
        if self.rate_bps < 0 or self.daily_exempt.minor < 0:
            raise InvalidFeeSchedule(f"levy {self.id!r} values must not be negative")

    def covers(self, on: date) -> bool:
        """True if the levy is in force on that day."""
        return _covers(self.valid_from, self.valid_to, on)

    def taxable_minor(self, amount_minor: int, sent_today_minor: int) -> int:
        """The part of this transfer above the payer's remaining daily exemption."""
        exempt = self.daily_exempt.minor
        after = max(0, sent_today_minor + amount_minor - exempt)
        before = max(0, sent_today_minor - exempt)
        return after - before

    def levy_minor(self, amount_minor: int, sent_today_minor: int) -> int:
        """The levy on this transfer, in pesewas."""
        return percent_of(self.taxable_minor(amount_minor, sent_today_minor), self.rate_bps)


@frozen
class FeeQuote:
    """An itemised quote: what the payer pays on top of `amount`, and which rules said so."""

    provider: ProviderId
    kind: TransferKind
    amount: Money
    provider_fee: Money
    levy: Money
    platform_fee: Money
    on: date | None = None
    provider_rule_id: str | None = None
    levy_rule_id: str | None = None
    platform_rule_id: str | None = None
    levy_taxable: Money = _ZERO
    levy_exempt_reason: str | None = None

    @property
    def total_fee(self) -> Money:
        """Provider fee + levy + platform fee."""
        return Money(self.provider_fee.minor + self.levy.minor + self.platform_fee.minor)

    @property
    def total_fee_minor(self) -> int:
        """`total_fee` in pesewas, without building a Money (routing hot path)."""
        return self.provider_fee.minor + self.levy.minor + self.platform_fee.minor

    @property
    def payer_total(self) -> Money:
        """What leaves the payer's wallet: amount + all fees."""
        return Money(
            self.amount.minor + self.provider_fee.minor + self.levy.minor + self.platform_fee.minor
        )

    def explain(self) -> dict[str, Any]:
        """JSON-ready itemisation: decimal strings, rule ids and the rounding rule."""
        return {
            "provider": self.provider.value,
            "kind": self.kind.value,
            "on": None if self.on is None else self.on.isoformat(),
            "currency": self.amount.currency,
            "amount": self.amount.to_decimal_string(),
            "provider_fee": self.provider_fee.to_decimal_string(),
            "levy": self.levy.to_decimal_string(),
            "levy_taxable": self.levy_taxable.to_decimal_string(),
            "levy_exempt_reason": self.levy_exempt_reason,
            "platform_fee": self.platform_fee.to_decimal_string(),
            "total_fee": self.total_fee.to_decimal_string(),
            "payer_total": self.payer_total.to_decimal_string(),
            "rules": {
                "provider_fee": self.provider_rule_id,
                "levy": self.levy_rule_id,
                "platform_fee": self.platform_rule_id,
            },
            "rounding": ROUNDING_RULE,
        }


_RESOLVED_CACHE_SIZE: Final = 4_096


class _Plan(NamedTuple):
    """What a (provider, kind, day) resolves to, precomputed once for every later quote."""

    rule: FeeRule
    charging_rule: FeeRule | None  # None when the rule is free at every amount
    levy: LevyRule | None
    levy_id: str | None
    kind_exempt_reason: str | None  # set when the levy exists but exempts this kind
    charging_platform: FeeRule | None  # None when there is no platform fee, or it is free
    platform_id: str | None


class FeeBook:
    """All tariffs, levies and the platform fee; quotes any transfer on any day.

    The book's one cache: what a (provider, transfer kind, day) resolves to (the rule
    in force, the levy, the platform fee) is worked out once and kept in a bounded
    memo (`_RESOLVED_CACHE_SIZE` entries, cleared when full). The book is immutable,
    so the memo can never be stale; it saves routing the look-ups through every
    schedule's dated rules on each quote (bench-core: see the README).
    """

    def __init__(
        self,
        schedules: Iterable[FeeSchedule],
        levies: Iterable[LevyRule] = (),
        platform_fee: FeeRule | Iterable[FeeRule] | None = None,
    ) -> None:
        self._schedules: dict[tuple[ProviderId, TransferKind], FeeSchedule] = {}
        for schedule in schedules:
            key = (schedule.provider, schedule.kind)
            if key in self._schedules:
                raise InvalidFeeSchedule(f"two fee schedules for {key[0]}/{key[1]}")
            self._schedules[key] = schedule
        self._levies = tuple(levies)
        _check_no_overlap("levies", [(r.valid_from, r.valid_to) for r in self._levies])
        if platform_fee is None:
            self._platform: tuple[FeeRule, ...] = ()
        elif isinstance(platform_fee, FeeRule):
            self._platform = (platform_fee,)
        else:
            self._platform = tuple(platform_fee)
        _check_no_overlap("platform fee", [(r.valid_from, r.valid_to) for r in self._platform])
        self._resolved: dict[tuple[ProviderId, TransferKind, date], _Plan] = {}

    def _resolve(self, provider: ProviderId, kind: TransferKind, on: date) -> _Plan:
        schedule = self._schedules.get((provider, kind))
        rule = None if schedule is None else schedule.rule_on(on)
        if rule is None:
            raise FeeRuleMissing(f"no fee rule for {provider}/{kind} on {on.isoformat()}")
        prule = next((r for r in self._platform if r.covers(on)), None)
        levy = self.levy_on(on)
        kind_exempt = None
        if levy is not None and kind in levy.exempt_kinds:
            kind_exempt = f"exempt_kind:{kind.value}"
        resolved = _Plan(
            rule,
            None if rule.is_free else rule,
            levy,
            None if levy is None else levy.id,
            kind_exempt,
            None if prule is None or prule.is_free else prule,
            None if prule is None else prule.id,
        )
        if len(self._resolved) >= _RESOLVED_CACHE_SIZE:
            self._resolved.clear()  # the book is immutable; the memo only saves look-ups
        self._resolved[(provider, kind, on)] = resolved
        return resolved

    @property
    def schedules(self) -> tuple[FeeSchedule, ...]:
        """Every provider * kind schedule in the book."""
        return tuple(self._schedules.values())

    @property
    def levies(self) -> tuple[LevyRule, ...]:
        """The levy history."""
        return self._levies

    def levy_on(self, on: date) -> LevyRule | None:
        """The levy in force on that day, if any."""
        for levy in self._levies:
            if levy.covers(on):
                return levy
        return None

    def quote(
        self,
        *,
        provider: ProviderId,
        kind: TransferKind,
        amount: Money,
        on: date,
        payer_sent_today: Money = _ZERO,
        levy_exempt: bool = False,
    ) -> FeeQuote:
        """Quote a transfer. `payer_sent_today` is the payer's earlier levy-relevant total that day."""
        self.check_quotable(amount, payer_sent_today)
        return self.quote_checked(
            provider, kind, amount, on, payer_sent_today, levy_exempt=levy_exempt
        )[0]

    @staticmethod
    def check_quotable(amount: Money, payer_sent_today: Money) -> None:
        """Raise unless `amount` and the payer's day total can be quoted (GHS, not negative)."""
        if amount.currency != "GHS" or payer_sent_today.currency != "GHS":
            raise UnsupportedCurrency(f"fees are only known for GHS, not {amount.currency}")
        if amount.minor < 0 or payer_sent_today.minor < 0:
            raise InvalidAmount("fee quotes need a non-negative amount and day total")

    def quote_checked(
        self,
        provider: ProviderId,
        kind: TransferKind,
        amount: Money,
        on: date,
        payer_sent_today: Money,
        *,
        levy_exempt: bool = False,
    ) -> tuple[FeeQuote, int]:
        """`quote` for inputs that already passed `check_quotable`, with its total fee in pesewas.

        For callers quoting several wallets for one payment (routing): the
        amount is checked once, and the call skips keyword-argument parsing.
        """
        amount_minor = amount.minor
        plan = self._resolved.get((provider, kind, on))
        if plan is None:
            plan = self._resolve(provider, kind, on)
        charging = plan.charging_rule
        provider_fee = 0 if charging is None else charging.fee_minor(amount_minor)

        levy_minor = 0
        taxable = 0
        exempt_reason: str | None = None
        levy = plan.levy
        if levy is not None:
            if levy_exempt:
                exempt_reason = "exempt_transfer"
            elif plan.kind_exempt_reason is not None:
                exempt_reason = plan.kind_exempt_reason
            elif levy.rate_bps:  # a zero-rate (repealed) levy taxes nothing
                taxable = levy.taxable_minor(amount_minor, payer_sent_today.minor)
                levy_minor = percent_of(taxable, levy.rate_bps)

        platform = plan.charging_platform
        platform_minor = 0 if platform is None else platform.fee_minor(amount_minor)
        quote = FeeQuote(
            provider,
            kind,
            amount,
            Money(provider_fee),
            Money(levy_minor),
            Money(platform_minor),
            on,
            plan.rule.id,
            plan.levy_id,
            plan.platform_id,
            Money(taxable),
            exempt_reason,
        )
        return quote, provider_fee + levy_minor + platform_minor


def transfer_kind(
    payer_provider: ProviderId,
    payee_msisdn_provider: ProviderId | None,
    *,
    merchant_payment: bool,
) -> TransferKind:
    """Classify a payer → payee transfer (payouts are DISBURSEMENT, chosen by the caller).

    A payee with no wallet network (None: e.g. the merchant's own collection
    account on the payer's network) is treated as same-network.
    """
    if merchant_payment:
        return TransferKind.MERCHANT_PAYMENT
    if payee_msisdn_provider is None or payee_msisdn_provider is payer_provider:
        return TransferKind.SAME_NETWORK
    return TransferKind.CROSS_NETWORK


# --- seed values (ghana-domain.md §4, §5, §11) -------------------------------------------------

#: Earliest day the seed tariffs claim to cover (MTN's 2020 tariff is the oldest sourced one).
SEED_START: Final = date(2020, 1, 1)
E_LEVY_START: Final = date(2022, 5, 1)
E_LEVY_CUT: Final = date(2023, 1, 1)
E_LEVY_REPEAL: Final = date(2025, 4, 2)
MTN_TARIFF_2022: Final = E_LEVY_START
MMI_CEILING_BPS: Final = 150  # GhIPSS MMI customer charge cap, 2018 (H)

E_LEVY_HISTORY: Final = (
    LevyRule(
        "e-levy-1.5pct",
        E_LEVY_START,
        E_LEVY_CUT,
        150,
        Money(10_000),
        source="Act 1075 (2022); GRA worked example",
    ),
    LevyRule(
        "e-levy-1pct",
        E_LEVY_CUT,
        E_LEVY_REPEAL,
        100,
        Money(10_000),
        confidence=Confidence.MEDIUM,  # the GH¢100 threshold's retention is M
        source="Act 1089 (2022)",
    ),
    LevyRule("e-levy-repealed", E_LEVY_REPEAL, None, 0, source="Act 1128 (2025)"),
)


def _mtn_p2p(prefix: str, max_rate_bps: int | None) -> tuple[FeeRule, ...]:
    bands_2020 = (
        FeeBand(up_to=Money(5_000), flat=Money(50)),
        FeeBand(up_to=None, rate_bps=100, max_fee=Money(1_000)),
    )
    return (
        FeeRule(
            f"{prefix}-2020",
            SEED_START,
            MTN_TARIFF_2022,
            bands_2020,
            max_rate_bps,
            Confidence.MEDIUM,
            "GH¢0.50 flat to 50, then 1 % cap 10 (Chamber of Telecoms 2020)",
        ),
        FeeRule.percentage(
            f"{prefix}-2022",
            75,
            valid_from=MTN_TARIFF_2022,
            max_fee=Money(750),
            max_rate_bps=max_rate_bps,
            confidence=Confidence.MEDIUM,
            source="0.75 % cap 7.50 from 2022-05-01 (MTN MoMo CEO via techfocus24)",
        ),
    )


def default_schedules() -> tuple[FeeSchedule, ...]:
    """The seed tariffs (payer side). Confirm every value with the provider before go-live."""
    mtn, at, tel = ProviderId.MTN, ProviderId.AIRTELTIGO, ProviderId.TELECEL
    k = TransferKind
    at_placeholder = "LOW: no public AT tariff; placeholder mirroring MTN 0.75 % cap 7.50"
    return (
        FeeSchedule(mtn, k.SAME_NETWORK, _mtn_p2p("mtn-p2p", None)),
        FeeSchedule(mtn, k.CROSS_NETWORK, _mtn_p2p("mtn-mmi", MMI_CEILING_BPS)),
        FeeSchedule(
            mtn,
            k.MERCHANT_PAYMENT,
            (FeeRule.free("mtn-merchant-payer", valid_from=SEED_START, source="payer pays 0"),),
        ),
        FeeSchedule(
            tel,
            k.SAME_NETWORK,
            (FeeRule.free("telecel-p2p", valid_from=SEED_START, source="free on-net since 2020"),),
        ),
        FeeSchedule(
            tel,
            k.CROSS_NETWORK,
            (
                FeeRule.free(
                    "telecel-mmi",
                    valid_from=SEED_START,
                    source="free to all networks by 2022; GhIPSS fee absorbed",
                ),
            ),
        ),
        FeeSchedule(
            tel,
            k.MERCHANT_PAYMENT,
            (
                FeeRule.free(
                    "telecel-merchant-payer", valid_from=SEED_START, confidence=Confidence.LOW
                ),
            ),
        ),
        FeeSchedule(
            at,
            k.SAME_NETWORK,
            (
                FeeRule.percentage(
                    "at-p2p-placeholder",
                    75,
                    valid_from=SEED_START,
                    max_fee=Money(750),
                    confidence=Confidence.LOW,
                    source=at_placeholder,
                ),
            ),
        ),
        FeeSchedule(
            at,
            k.CROSS_NETWORK,
            (
                FeeRule.percentage(
                    "at-mmi-placeholder",
                    75,
                    valid_from=SEED_START,
                    max_fee=Money(750),
                    max_rate_bps=MMI_CEILING_BPS,
                    confidence=Confidence.LOW,
                    source=at_placeholder + "; MMI ceiling 1.5 %",
                ),
            ),
        ),
        FeeSchedule(
            at,
            k.MERCHANT_PAYMENT,
            (FeeRule.free("at-merchant-payer", valid_from=SEED_START, confidence=Confidence.LOW),),
        ),
        *(
            FeeSchedule(
                provider,
                k.DISBURSEMENT,
                (
                    FeeRule.free(
                        f"{provider.value}-disbursement",
                        valid_from=SEED_START,
                        confidence=Confidence.LOW,
                        source="negotiated per merchant contract, not public; configure",
                    ),
                ),
            )
            for provider in ProviderId
        ),
    )


def default_fee_book(platform_fee: FeeRule | Iterable[FeeRule] | None = None) -> FeeBook:
    """The seed fee book: provider tariffs, the E-Levy history and no platform fee by default."""
    if platform_fee is None:
        platform_fee = FeeRule.free("platform-none", valid_from=date.min)
    return FeeBook(default_schedules(), E_LEVY_HISTORY, platform_fee)
