"""Money: integer minor units, strict decimal-string parsing, no currency mixing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import CurrencyMismatch, InvalidAmount, UnsupportedCurrency
from synccash.core.money import Money


@pytest.mark.parametrize(
    ("text", "minor"),
    [("12.50", 1250), ("12", 1200), ("0.5", 50), ("0.05", 5), ("0", 0), (" 7.10 ", 710)],
)
def test_parse_accepts_decimal_strings(text, minor):
    """Plain decimal strings become exact pesewas."""
    assert Money.parse(text).minor == minor


@pytest.mark.parametrize(
    "bad",
    ["12.505", "-1", "-0.01", "NaN", "inf", "1e3", "1,000", "", "12.", ".5", "abc", "0x10"],
)
def test_parse_rejects_bad_strings(bad):
    """Anything but a non-negative decimal with at most 2 places is refused."""
    with pytest.raises(InvalidAmount):
        Money.parse(bad)


@pytest.mark.parametrize("bad", [12.5, 1.0, True, None, [1]])
def test_parse_rejects_non_strings(bad):
    """Floats (and other non-strings) never become money."""
    with pytest.raises(InvalidAmount):
        Money.parse(bad)


@pytest.mark.parametrize("bad", ["\u0661\u0662", "1\u0662.50", "12.\u0665\u0660", "\uff11\uff12"])
def test_parse_rejects_non_ascii_digits(bad):
    """Other scripts' digits are refused, not silently converted by int()."""
    with pytest.raises(InvalidAmount):
        Money.parse(bad)


def test_money_rejects_bool_minor_units():
    """True is not one pesewa."""
    with pytest.raises(InvalidAmount):
        Money(minor=True)


def test_more_than_two_decimals_says_so():
    """The error names the actual problem."""
    with pytest.raises(InvalidAmount, match="more than 2 decimal"):
        Money.parse("1.234")


def test_unsupported_currency_is_refused():
    """Only GHS is settled."""
    with pytest.raises(UnsupportedCurrency, match="USD"):
        Money.parse("1.00", "USD")


def test_arithmetic_and_formatting():
    """Sums stay exact and render as decimal strings."""
    total = Money.parse("0.10") + Money.parse("0.20")
    assert total == Money(30)
    assert total.to_decimal_string() == "0.30"
    assert (Money(5) - Money(10)).to_decimal_string() == "-0.05"
    assert str(Money(123456)) == "GHS 1234.56"


def test_money_rejects_float_minor_units():
    """The constructor refuses floats too."""
    with pytest.raises(InvalidAmount):
        Money(1.5)  # type: ignore[arg-type]


def test_cannot_mix_currencies():
    """Combining two currencies raises, even if one is not settled (constructed bypassing parse)."""
    a = Money(100)
    b = object.__new__(Money)
    object.__setattr__(b, "minor", 100)
    object.__setattr__(b, "currency", "USD")
    with pytest.raises(CurrencyMismatch):
        a + b
    with pytest.raises(CurrencyMismatch):
        _ = a < b


@given(st.integers(min_value=0, max_value=10**15))
def test_round_trip_never_loses_a_pesewa(minor):
    """Format then parse returns the same minor units."""
    money = Money(minor)
    assert Money.parse(money.to_decimal_string()) == money


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=50))
def test_sum_is_exact(values):
    """Adding Money equals adding the integers."""
    total = Money(0)
    for value in values:
        total = total + Money(value)
    assert total.minor == sum(values)


def test_constructor_refuses_unsupported_currency():
    """Money(…, "USD") is refused like Money.parse(…, "USD")."""
    with pytest.raises(UnsupportedCurrency):
        Money(100, "USD")


def test_parse_accepts_an_int_of_whole_units():
    """An int is whole units, the same as its decimal string."""
    assert Money.parse(12) == Money.parse("12") == Money(1200)
