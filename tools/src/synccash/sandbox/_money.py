"""Amounts on the wire (decimal strings or JSON numbers) to and from integer minor units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_minor(value: object) -> int | None:
    """Minor units of a positive amount with at most 2 decimals, else None.

    JSON floats are read through ``str`` (``0.8`` -> 80), never as binary floats.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def to_decimal_string(minor: int) -> str:
    """``12345`` -> ``"123.45"``; whole amounts keep no decimals (``10000`` -> ``"100"``)."""
    whole, cents = divmod(minor, 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"


def to_cedis(minor: int) -> float:
    """A JSON number with two decimals, as Hubtel and Airtel send amounts."""
    return float(Decimal(minor) / 100)
