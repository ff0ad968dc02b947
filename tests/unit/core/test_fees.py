"""Fee schedules, the E-Levy history and quotes."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import InvalidAmount
from synccash.core.fees import (
    E_LEVY_HISTORY,
    ROUNDING_RULE,
    FeeBand,
    FeeBook,
    FeeQuote,
    FeeRule,
    FeeRuleMissing,
    FeeSchedule,
    InvalidFeeSchedule,
    LevyRule,
    TransferKind,
    default_fee_book,
    percent_of,
    round_half_up,
    transfer_kind,
)
from synccash.core.money import Money, ghs
from synccash.core.providers import ProviderId

MTN = ProviderId.MTN
AT = ProviderId.AIRTELTIGO
TEL = ProviderId.TELECEL
P2P = TransferKind.SAME_NETWORK
BOOK = default_fee_book()


def quote(
    amount: str,
    on: date,
    *,
    provider: ProviderId = MTN,
    kind: TransferKind = P2P,
    sent: str = "0",
    levy_exempt: bool = False,
) -> FeeQuote:
    return BOOK.quote(
        provider=provider,
        kind=kind,
        amount=ghs(amount),
        on=on,
        payer_sent_today=ghs(sent),
        levy_exempt=levy_exempt,
    )


# --- rounding ---------------------------------------------------------------------------


def test_round_half_up_rounds_exact_half_up():
    """0.5 rounds up, just below 0.5 rounds down."""
    assert round_half_up(1, 2) == 1
    assert round_half_up(49, 100) == 0
    assert round_half_up(3, 2) == 2
    assert round_half_up(0, 7) == 0


def test_percent_of_rounds_to_nearest_pesewa():
    """0.75 % of GH¢150 is 112.5 pesewas, which rounds up to 113."""
    assert percent_of(15_000, 75) == 113
    assert percent_of(13_300, 75) == 100  # 99.75 → 100
    assert percent_of(13_266, 75) == 99  # 99.495 → 99


# --- E-Levy -----------------------------------------------------------------------------


def test_gra_worked_example_first_transfer_taxes_only_excess():
    """GRA: a first transfer of 150 at 1.5 % pays 0.75 (only the 50 above 100)."""
    q = quote("150", date(2022, 6, 1))
    assert Money(75) == q.levy
    assert ghs("50") == q.levy_taxable


def test_gra_worked_example_later_transfer_same_day_fully_taxed():
    """GRA: a later 200 the same day (after 150) is taxed in full: 3.00."""
    assert Money(300) == quote("200", date(2022, 6, 1), sent="150").levy


@pytest.mark.parametrize(
    ("amount", "levy"),
    [("150", "0.75"), ("200", "1.50"), ("1000", "13.50"), ("5000", "73.50"), ("100", "0.00")],
)
def test_gra_certified_table(amount, levy):
    """The GRA certified table for first transfers of the day at 1.5 %."""
    assert ghs(levy) == quote(amount, date(2022, 7, 1)).levy


def test_levy_partial_exemption_straddling_threshold():
    """With 60 already sent, a transfer of 80 has 40 taxable."""
    q = quote("80", date(2022, 7, 1), sent="60")
    assert ghs("40") == q.levy_taxable
    assert ghs("0.60") == q.levy


@pytest.mark.parametrize(
    ("on", "levy", "rule"),
    [
        (date(2022, 4, 30), "0.00", None),
        (date(2022, 5, 1), "1.50", "e-levy-1.5pct"),
        (date(2022, 12, 31), "1.50", "e-levy-1.5pct"),
        (date(2023, 1, 1), "1.00", "e-levy-1pct"),
        (date(2025, 4, 1), "1.00", "e-levy-1pct"),
        (date(2025, 4, 2), "0.00", "e-levy-repealed"),
        (date(2026, 11, 26), "0.00", "e-levy-repealed"),
    ],
)
def test_levy_boundary_days(on, levy, rule):
    """The levy rate switches exactly on 2022-05-01, 2023-01-01 and 2025-04-02."""
    q = quote("200", on)
    assert ghs(levy) == q.levy
    assert rule == q.levy_rule_id


@pytest.mark.parametrize("kind", [TransferKind.MERCHANT_PAYMENT, TransferKind.DISBURSEMENT])
def test_levy_exempt_kinds(kind):
    """Merchant payments and disbursements carry no levy, and say why."""
    q = quote("1000", date(2022, 7, 1), kind=kind)
    assert q.levy.is_zero
    assert q.levy_exempt_reason == f"exempt_kind:{kind.value}"


def test_levy_exempt_flag():
    """A transfer flagged exempt (e.g. same person) pays no levy."""
    q = quote("1000", date(2022, 7, 1), levy_exempt=True)
    assert q.levy.is_zero
    assert q.levy_exempt_reason == "exempt_transfer"


def test_cross_network_is_taxed():
    """Transfers across EMIs are taxable."""
    assert ghs("1.50") == quote("200", date(2022, 7, 1), kind=TransferKind.CROSS_NETWORK).levy


# --- provider tariffs -------------------------------------------------------------------


def test_mtn_p2p_from_may_2022_is_075_percent_capped_at_750():
    """MTN P2P: 0.75 % capped at GH¢7.50 from 2022-05-01."""
    assert ghs("0.75") == quote("100", date(2022, 5, 1)).provider_fee
    assert ghs("7.50") == quote("1000", date(2024, 1, 1)).provider_fee
    assert ghs("7.50") == quote("20000", date(2024, 1, 1)).provider_fee


def test_mtn_p2p_before_may_2022_uses_bands():
    """Pre-2022 MTN: 0.50 flat up to 50, then 1 % capped at 10."""
    assert ghs("0.50") == quote("10", date(2021, 6, 1)).provider_fee
    assert ghs("0.50") == quote("50", date(2021, 6, 1)).provider_fee
    assert ghs("5.00") == quote("500", date(2021, 6, 1)).provider_fee
    assert ghs("10.00") == quote("5000", date(2021, 6, 1)).provider_fee
    assert quote("10", date(2022, 4, 30)).provider_rule_id == "mtn-p2p-2020"
    assert quote("10", date(2022, 5, 1)).provider_rule_id == "mtn-p2p-2022"


def test_mtn_cross_network_respects_mmi_ceiling():
    """Cross-network fees never exceed the 1.5 % MMI ceiling (0.50 flat on GH¢10 → 0.15)."""
    q = quote("10", date(2021, 6, 1), kind=TransferKind.CROSS_NETWORK)
    assert ghs("0.15") == q.provider_fee


def test_free_tariffs():
    """Telecel P2P and MTN merchant payments cost the payer nothing."""
    assert quote("500", date(2024, 1, 1), provider=TEL).provider_fee.is_zero
    assert quote("500", date(2024, 1, 1), kind=TransferKind.MERCHANT_PAYMENT).provider_fee.is_zero


def test_at_placeholder_is_low_confidence():
    """AT's P2P tariff is a documented LOW-confidence placeholder."""
    q = quote("100", date(2024, 1, 1), provider=AT)
    assert ghs("0.75") == q.provider_fee
    rule = next(s for s in BOOK.schedules if s.provider is AT and s.kind is P2P).rules[0]
    assert rule.confidence.value == "L"


def test_quote_totals_and_explanation():
    """Totals add up and the explanation is JSON-ready with rule ids and the rounding rule."""
    q = quote("150", date(2022, 6, 1))
    assert ghs("1.88") == q.total_fee
    assert ghs("151.88") == q.payer_total
    explained = q.explain()
    json.dumps(explained)
    assert explained["provider_fee"] == "1.13"
    assert explained["levy"] == "0.75"
    assert explained["rules"]["provider_fee"] == "mtn-p2p-2022"
    assert explained["rules"]["levy"] == "e-levy-1.5pct"
    assert explained["rounding"] == ROUNDING_RULE


def test_platform_fee_is_configurable():
    """A platform fee rule adds its own itemised line."""
    platform = FeeRule.percentage(
        "platform-1pct", 100, valid_from=date(2024, 1, 1), min_fee=Money(10), max_fee=Money(500)
    )
    book = default_fee_book(platform)
    small = book.quote(provider=TEL, kind=P2P, amount=ghs("1"), on=date(2024, 2, 1))
    big = book.quote(provider=TEL, kind=P2P, amount=ghs("10000"), on=date(2024, 2, 1))
    before = book.quote(provider=TEL, kind=P2P, amount=ghs("100"), on=date(2023, 2, 1))
    assert Money(10) == small.platform_fee
    assert Money(500) == big.platform_fee
    assert before.platform_fee.is_zero
    assert before.platform_rule_id is None
    assert big.platform_rule_id == "platform-1pct"


def test_missing_rule_raises_domain_error():
    """A date before any tariff raises fee_rule_missing instead of quoting zero."""
    with pytest.raises(FeeRuleMissing) as err:
        quote("10", date(2019, 1, 1))
    assert err.value.code == "fee_rule_missing"


def test_quote_rejects_negative_amounts():
    """Negative amounts are refused."""
    with pytest.raises(Exception, match="non-negative"):
        BOOK.quote(provider=MTN, kind=P2P, amount=Money(-1), on=date(2024, 1, 1))


# --- schedule validation ----------------------------------------------------------------


def test_overlapping_rules_are_rejected():
    """Two rules in force on the same day for one provider x kind are a configuration error."""
    a = FeeRule.free("a", valid_from=date(2024, 1, 1), valid_to=date(2024, 6, 1))
    b = FeeRule.free("b", valid_from=date(2024, 5, 1))
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule(MTN, P2P, (a, b))


def test_open_ended_rule_before_another_is_rejected():
    """An open-ended rule followed by a later one overlaps."""
    a = FeeRule.free("a", valid_from=date(2024, 1, 1))
    b = FeeRule.free("b", valid_from=date(2025, 1, 1))
    with pytest.raises(InvalidFeeSchedule):
        FeeSchedule(MTN, P2P, (b, a))


def test_duplicate_schedule_rejected():
    """One schedule per provider x kind."""
    s = FeeSchedule(MTN, P2P, (FeeRule.free("a", valid_from=date(2024, 1, 1)),))
    with pytest.raises(InvalidFeeSchedule):
        FeeBook([s, s])


def test_bad_bands_rejected():
    """Negative values, inverted caps, empty or mis-ordered bands are refused."""
    with pytest.raises(InvalidFeeSchedule):
        FeeBand(rate_bps=-1)
    with pytest.raises(InvalidFeeSchedule):
        FeeBand(min_fee=Money(100), max_fee=Money(50))
    with pytest.raises(InvalidFeeSchedule):
        FeeRule("x", date(2024, 1, 1), None, ())
    with pytest.raises(InvalidFeeSchedule):
        FeeRule("x", date(2024, 1, 1), None, (FeeBand(), FeeBand(up_to=Money(5))))
    with pytest.raises(InvalidFeeSchedule):
        FeeRule.free("x", valid_from=date(2024, 1, 1), valid_to=date(2024, 1, 1))
    with pytest.raises(InvalidFeeSchedule):
        LevyRule("x", date(2024, 1, 1), None, -5)


def test_levy_history_matches_reference():
    """The seeded E-Levy history is 1.5 %, 1 %, 0 with a GH¢100 daily exemption."""
    assert [(r.valid_from, r.valid_to, r.rate_bps) for r in E_LEVY_HISTORY] == [
        (date(2022, 5, 1), date(2023, 1, 1), 150),
        (date(2023, 1, 1), date(2025, 4, 2), 100),
        (date(2025, 4, 2), None, 0),
    ]
    assert all(r.daily_exempt == ghs("100") for r in E_LEVY_HISTORY[:2])


# --- transfer kind ----------------------------------------------------------------------


def test_transfer_kind():
    """Merchant payment wins; same or unknown payee network is same-network; else cross."""
    assert transfer_kind(MTN, TEL, merchant_payment=True) is TransferKind.MERCHANT_PAYMENT
    assert transfer_kind(MTN, MTN, merchant_payment=False) is TransferKind.SAME_NETWORK
    assert transfer_kind(MTN, None, merchant_payment=False) is TransferKind.SAME_NETWORK
    assert transfer_kind(MTN, AT, merchant_payment=False) is TransferKind.CROSS_NETWORK


# --- properties -------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10_000_000).map(Money)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
providers = st.sampled_from(list(ProviderId))
kinds = st.sampled_from(list(TransferKind))


@given(amount=amounts, on=days, provider=providers, kind=kinds, sent=amounts)
def test_fees_never_negative_and_add_up(amount, on, provider, kind, sent):
    """Every component is >= 0 and the totals are their sum."""
    q = BOOK.quote(provider=provider, kind=kind, amount=amount, on=on, payer_sent_today=sent)
    assert q.provider_fee.minor >= 0
    assert q.levy.minor >= 0
    assert q.platform_fee.minor >= 0
    assert q.total_fee.minor == q.provider_fee.minor + q.levy.minor + q.platform_fee.minor
    assert q.payer_total.minor == amount.minor + q.total_fee.minor


@given(
    amount=st.integers(min_value=0, max_value=10_000_000),
    rate=st.integers(min_value=0, max_value=5_000),
    flat=st.integers(min_value=0, max_value=1_000),
    low=st.integers(min_value=0, max_value=2_000),
    span=st.integers(min_value=0, max_value=5_000),
)
def test_fee_respects_min_and_max_caps(amount, rate, flat, low, span):
    """A band's fee always lies within [min_fee, max_fee] and matches the formula."""
    band = FeeBand(rate_bps=rate, flat=Money(flat), min_fee=Money(low), max_fee=Money(low + span))
    rule = FeeRule("r", date(2024, 1, 1), None, (band,))
    fee = rule.fee_minor(amount)
    assert low <= fee <= low + span
    assert fee == min(low + span, max(low, flat + percent_of(amount, rate)))


@given(amount=st.integers(min_value=0, max_value=10_000_000), ceiling=st.integers(0, 300))
def test_regulatory_ceiling_never_exceeded(amount, ceiling):
    """With max_rate_bps the fee never exceeds that share of the amount."""
    rule = FeeRule.percentage("r", 500, valid_from=date(2024, 1, 1), flat=Money(100))
    capped = FeeRule("c", rule.valid_from, None, rule.bands, max_rate_bps=ceiling)
    assert capped.fee_minor(amount) * 10_000 <= amount * ceiling


@given(
    first=st.integers(min_value=0, max_value=1_000_000),
    second=st.integers(min_value=0, max_value=1_000_000),
    before=st.integers(min_value=0, max_value=1_000_000),
)
def test_levy_taxable_is_additive_over_a_day(first, second, before):
    """Splitting a day's transfers never changes the total taxable amount."""
    levy = E_LEVY_HISTORY[0]
    split = levy.taxable_minor(first, before) + levy.taxable_minor(second, before + first)
    whole = levy.taxable_minor(first + second, before)
    assert split == whole
    assert whole == max(0, before + first + second - 10_000) - max(0, before - 10_000)


@given(amount=st.integers(min_value=0, max_value=10_000_000), bps=st.integers(0, 10_000))
def test_percent_of_is_within_half_a_pesewa(amount, bps):
    """Rounding never moves more than half a pesewa from the exact rational."""
    exact_times_2 = 2 * amount * bps  # in units of 1/(2*10_000) pesewa
    assert abs(percent_of(amount, bps) * 20_000 - exact_times_2) <= 10_000


def test_quote_rejects_negative_day_totals():
    """A negative payer day total is refused with invalid_amount."""
    with pytest.raises(InvalidAmount):
        BOOK.quote(
            provider=MTN, kind=P2P, amount=ghs("1"), on=date(2024, 1, 1), payer_sent_today=Money(-1)
        )


@given(amount=amounts, on=days, provider=providers, kind=kinds, sent=amounts)
def test_quote_checked_is_quote_with_its_total(amount, on, provider, kind, sent):
    """The routing entry point gives the same quote as `quote`, plus the total fee."""
    for levy_exempt in (False, True):
        expected = BOOK.quote(
            provider=provider,
            kind=kind,
            amount=amount,
            on=on,
            payer_sent_today=sent,
            levy_exempt=levy_exempt,
        )
        actual, total = BOOK.quote_checked(
            provider, kind, amount, on, sent, levy_exempt=levy_exempt
        )
        assert expected == actual
        assert expected.total_fee.minor == total


@pytest.mark.parametrize(("amount", "sent"), [(Money(-1), Money(0)), (Money(100), Money(-5))])
def test_check_quotable_refuses_negative_inputs(amount, sent):
    """What quote refuses, check_quotable refuses too (routing checks once per payment)."""
    with pytest.raises(InvalidAmount):
        FeeBook.check_quotable(amount, sent)


def test_platform_fee_quoted_through_the_plan_each_day():
    """A dated platform fee applies only from its start day, also after earlier quotes."""
    book = default_fee_book(
        FeeRule.percentage("platform-1pct", 100, valid_from=date(2026, 1, 1), max_fee=Money(200))
    )
    before = book.quote(provider=TEL, kind=P2P, amount=ghs("100"), on=date(2025, 12, 31))
    after = book.quote(provider=TEL, kind=P2P, amount=ghs("100"), on=date(2026, 1, 1))
    again = book.quote(provider=TEL, kind=P2P, amount=ghs("100"), on=date(2025, 12, 31))
    assert (before.platform_fee, before.platform_rule_id) == (Money(0), None)
    assert (after.platform_fee, after.platform_rule_id) == (Money(100), "platform-1pct")
    assert again == before
