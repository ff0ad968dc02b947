"""Money in integer minor units (pesewas). Floats never touch an amount."""

from __future__ import annotations

import re
from typing import Final

from attrs import frozen

from synccash.core.errors import CurrencyMismatch, InvalidAmount, UnsupportedCurrency

#: Currencies SyncCash settles in, with their number of minor-unit digits.
SUPPORTED_CURRENCIES: Final[dict[str, int]] = {"GHS": 2}

# ASCII digits only: `\d` would also admit other scripts' digits, which int() then
# silently converts.
_AMOUNT_RE: Final = re.compile(r"(?P<units>[0-9]{1,15})(?:\.(?P<frac>[0-9]{1,2}))?")
_TOO_PRECISE_RE: Final = re.compile(r"[0-9]+\.[0-9]{3,}")
_MAX_UNITS_DIGITS: Final = 15
_PAD: Final = ("00", "0", "")  # right-pads 0, 1 or 2 decimals to pesewas


def check_currency(currency: str) -> str:
    """Return the currency code if SyncCash supports it, else raise UnsupportedCurrency."""
    if not isinstance(currency, str) or currency not in SUPPORTED_CURRENCIES:
        supported = ", ".join(sorted(SUPPORTED_CURRENCIES))
        raise UnsupportedCurrency(
            f"currency {currency!r} is not supported; use one of: {supported}"
        )
    return currency


def _check_minor(value: object) -> int:
    # bool is an int subclass; True pesewas is a bug, not an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAmount(f"amount must be an integer number of minor units, got {value!r}")
    return value


@frozen(order=False)
class Money:
    """An amount in integer minor units of one currency (GHS: pesewas).

    Negative values are allowed for internal arithmetic (differences), but
    `parse` only accepts non-negative amounts from the outside world.
    """

    minor: int
    currency: str = "GHS"

    def __attrs_post_init__(self) -> None:
        # `type() is int` excludes bool; the usual value (a GHS int) needs one test.
        if type(self.minor) is not int or self.currency != "GHS":
            _check_minor(self.minor)
            check_currency(self.currency)

    @classmethod
    def parse(cls, text: object, currency: str = "GHS") -> Money:
        """Parse a decimal string such as "12.50", "12" or "0.5" into Money.

        Rejects floats, negatives, more than two decimals, exponents, NaN/inf,
        thousands separators and anything that is not a plain decimal string.
        """
        if type(text) is str and currency == "GHS":
            # Fast path: an already-clean decimal string (the API's usual input).
            # str methods beat a regex match here; isascii() keeps other scripts' digits out.
            units, dot, frac = text.partition(".")
            if (
                text.isascii()
                and units.isdigit()
                and len(units) <= _MAX_UNITS_DIGITS
                and (not dot or (frac.isdigit() and len(frac) <= 2))
            ):
                return cls(int(units + frac + _PAD[len(frac)]), currency)
        check_currency(currency)
        if isinstance(text, bool) or not isinstance(text, str | int):
            raise InvalidAmount(
                f'amount must be a decimal string such as "12.50", got {type(text).__name__}'
            )
        raw = str(text).strip()
        if raw.startswith("-"):
            raise InvalidAmount(f"amount must not be negative, got {raw!r}")
        match = _AMOUNT_RE.fullmatch(raw)
        if match is None:
            if _TOO_PRECISE_RE.fullmatch(raw):
                raise InvalidAmount(f"amount {raw!r} has more than 2 decimal places")
            raise InvalidAmount(f'amount {raw!r} is not a decimal number such as "12.50"')
        frac = (match.group("frac") or "").ljust(2, "0")
        return cls(int(match.group("units")) * 100 + int(frac or "0"), currency)

    @classmethod
    def zero(cls, currency: str = "GHS") -> Money:
        """Zero in the given currency."""
        return cls(0, currency)

    @classmethod
    def of(cls, minor: int, currency: str = "GHS") -> Money:
        """Named constructor from minor units."""
        return cls(minor, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def times(self, factor: int) -> Money:
        """Multiply by an integer (e.g. a count); never by a float."""
        _check_minor(factor)
        return Money(self.minor * factor, self.currency)

    @property
    def is_zero(self) -> bool:
        """True for a zero amount."""
        return self.minor == 0

    @property
    def is_positive(self) -> bool:
        """True for an amount above zero."""
        return self.minor > 0

    def to_decimal_string(self) -> str:
        """Render as the API's decimal string, e.g. "12.50"."""
        sign = "-" if self.minor < 0 else ""
        units, cents = divmod(abs(self.minor), 100)
        return f"{sign}{units}.{cents:02d}"

    def __str__(self) -> str:
        return f"{self.currency} {self.to_decimal_string()}"


def ghs(text: str) -> Money:
    """Shorthand for Money.parse(text, "GHS")."""
    return Money.parse(text, "GHS")
