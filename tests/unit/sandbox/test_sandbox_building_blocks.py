"""Sandbox building blocks without HTTP: faults, numbering, money, world."""

from __future__ import annotations

import pytest

from synccash.sandbox import Faults, SandboxWorld, ghana_test_number, scenario_for
from synccash.sandbox._money import to_decimal_string, to_minor
from synccash.sandbox._numbers import canonical, network_of, nsn


def test_seeded_faults_repeat():
    """Two fault sets with the same seed make the same decisions."""
    first, second = Faults(), Faults()
    first.update(seed=42, error_rate=0.5)
    second.update(seed=42, error_rate=0.5)
    assert [first.roll(0.5) for _ in range(50)] == [second.roll(0.5) for _ in range(50)]


def test_fault_rates_are_checked():
    """A rate outside [0, 1] or an unknown knob is refused."""
    faults = Faults()
    with pytest.raises(ValueError, match="error_rate"):
        faults.update(error_rate=2)
    with pytest.raises(ValueError, match="unknown"):
        faults.update(explode=True)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("233241234567", "233241234567"),
        ("+233241234567", "233241234567"),
        ("0241234567", "233241234567"),
        ("241234567", "233241234567"),
        ("46733123450", "46733123450"),
        ("56733123453", "56733123453"),
        ("12ab", None),
    ],
)
def test_canonical_forms(raw, key):
    """Every accepted spelling maps to one wallet key."""
    assert canonical(raw) == key


@pytest.mark.parametrize(
    ("key", "network"),
    [
        ("233241234567", "mtn"),
        ("233591234567", "mtn"),
        ("233201234567", "telecel"),
        ("233501234567", "telecel"),
        ("233261234567", "airteltigo"),
        ("233231234567", "airteltigo"),
        ("233301234567", None),
        ("46733123451", "mtn"),
    ],
)
def test_prefix_networks(key, network):
    """The prefix table says where a number was issued."""
    assert network_of(key) == network


def test_nsn_is_nine_digits():
    """Airtel's wire form drops the country code."""
    assert nsn("233261234567") == "261234567"


def test_ghana_test_numbers():
    """0XX00000NN selects a scenario; other numbers succeed."""
    assert ghana_test_number("telecel", "01") == "233200000001"
    assert scenario_for("233200000001").reason == "APPROVAL_REJECTED"
    assert scenario_for("233200000010").final == "success"
    assert scenario_for("233241234501").final == "success"


def test_world_creates_wallets_on_their_prefix_network():
    """An unknown number is created with the default balance on its prefix network."""
    world = SandboxWorld(default_balance_minor=5_000)
    wallet = world.lookup("0201234567")
    assert (wallet.provider, wallet.balance_minor, wallet.msisdn) == (
        "telecel",
        5_000,
        "233201234567",
    )
    assert world.lookup("0301234567") is None


def test_porting_moves_a_number():
    """register() puts an MTN-prefix number on Telecel; on_provider follows it."""
    world = SandboxWorld()
    world.register("233241234567", "telecel", name="Esi Quaye", balance_minor=1)
    assert world.on_provider("233241234567", "mtn") is None
    assert world.on_provider("233241234567", "telecel").name == "Esi Quaye"


@pytest.mark.parametrize(
    ("wire", "minor"),
    [
        ("100", 10_000),
        ("12.5", 1_250),
        (0.8, 80),
        (1.005, None),
        ("-1", None),
        (True, None),
        ("x", None),
    ],
)
def test_amounts(wire, minor):
    """Decimal strings and JSON numbers become exact minor units, or are refused."""
    assert to_minor(wire) == minor


def test_decimal_strings():
    """Minor units print as MTN-style decimal strings."""
    assert (to_decimal_string(10_000), to_decimal_string(1_250)) == ("100", "12.50")
