"""Ghana MSISDN normalisation, validation and network hints."""

import pytest

from synccash.core.errors import InvalidMsisdn
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId


@pytest.mark.parametrize(
    "raw",
    [
        "0241234567",
        "241234567",
        "233241234567",
        "+233 24 123 4567",
        "00233241234567",
        "024-123-4567",
        "(024) 123 4567",
    ],
)
def test_normalises_every_accepted_form(raw):
    """All documented input forms become 233 + NSN."""
    assert Msisdn.parse(raw).e164 == "233241234567"


@pytest.mark.parametrize(
    "bad",
    ["", "12345", "0311234567", "+2342412345678", "02412345678", "024123456a", "0281234567"],
)
def test_rejects_non_ghana_mobile(bad):
    """Wrong length, landlines, other countries and non-MoMo ranges are refused."""
    with pytest.raises(InvalidMsisdn):
        Msisdn.parse(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "024123456\u0667",
        "\u0660\u0662\u0664\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
        "2\u0664\u0661234567",
    ],
)
def test_rejects_non_ascii_digits(bad):
    """Other scripts' digits are refused rather than stored in the MSISDN."""
    with pytest.raises(InvalidMsisdn):
        Msisdn.parse(bad)


@pytest.mark.parametrize("raw", ["+0241234567", " 0241234567 ", "00241234567", "+233-24-123-4567"])
def test_less_common_forms_take_the_full_path(raw):
    """Forms outside the fast path still normalise the same way."""
    assert Msisdn.parse(raw).e164 == "233241234567"


def test_rejects_non_string():
    """An int is not a phone number (leading zeros would be lost)."""
    with pytest.raises(InvalidMsisdn):
        Msisdn.parse(241234567)


@pytest.mark.parametrize(
    ("raw", "provider"),
    [
        ("0241234567", ProviderId.MTN),
        ("0251234567", ProviderId.MTN),
        ("0531234567", ProviderId.MTN),
        ("0541234567", ProviderId.MTN),
        ("0551234567", ProviderId.MTN),
        ("0591234567", ProviderId.MTN),
        ("0201234567", ProviderId.TELECEL),
        ("0501234567", ProviderId.TELECEL),
        ("0261234567", ProviderId.AIRTELTIGO),
        ("0271234567", ProviderId.AIRTELTIGO),
        ("0561234567", ProviderId.AIRTELTIGO),
        ("0571234567", ProviderId.AIRTELTIGO),
        ("0231234567", ProviderId.AIRTELTIGO),
    ],
)
def test_network_hint_from_prefix(raw, provider):
    """Prefixes map to the issuing network (a prior only)."""
    assert Msisdn.parse(raw).network_hint is provider


def test_forms_and_masking():
    """Each provider form and the log mask are derived from one value."""
    number = Msisdn.parse("0241234567")
    assert number.nsn == "241234567"
    assert number.national == "0241234567"
    assert number.masked == "23324****567"
    assert "1234" not in number.masked
