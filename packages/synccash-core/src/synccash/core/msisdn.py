"""Ghana MSISDNs: normalise to 233XXXXXXXXX, validate, and hint the original network.

The network hint is a prior only: numbers have been portable since 2011, so the
provider's account-holder lookup is the truth.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers
from attrs import frozen

from synccash.core.errors import InvalidMsisdn
from synccash.core.providers import ProviderId

_SEPARATORS: Final = re.compile(r"[\s\-().]")
# Hard rule from the domain reference: after normalisation the national form
# must be 0[25]XXXXXXXX; libphonenumber decides the finer mobile ranges.
# ASCII digits only (`\d` and str.isdigit() also admit other scripts' digits).
_NSN_RE: Final = re.compile(r"[25][0-9]{8}")
# The common clean forms in one match (fast path); anything else takes the
# step-by-step path below, which also words the error.
_NSN_LEN: Final = 9
_NATIONAL_LEN: Final = 10  # 0 + NSN
_E164_LEN: Final = 12  # 233 + NSN
_CLEAN_RE: Final = re.compile(r"(?:\+233|00233|233|0)?([25][0-9]{8})")

#: NSN two-digit prefix -> network that originally issued the range.
PREFIX_HINTS: Final[dict[str, ProviderId]] = {
    **dict.fromkeys(("24", "25", "53", "54", "55", "59"), ProviderId.MTN),
    **dict.fromkeys(("20", "50"), ProviderId.TELECEL),
    **dict.fromkeys(("26", "27", "56", "57", "23"), ProviderId.AIRTELTIGO),
}


@frozen
class Msisdn:
    """A normalised Ghana mobile number, stored as 233 + 9-digit NSN."""

    e164: str  # "233241234567" (no plus: the MTN / aggregator API form)

    @classmethod
    def parse(cls, raw: object) -> Msisdn:
        """Normalise 0241234567, 241234567, 233241234567, +233 24 123 4567 or 00233…."""
        if type(raw) is str:
            # Fast paths (same result as the step-by-step path below, without its
            # intermediate strings): plain digits, then one regex over the usual forms.
            size = len(raw)
            if size == _NATIONAL_LEN and raw[0] == "0":
                nsn = raw[1:]
            elif size == _E164_LEN and raw.startswith("233"):
                nsn = raw[3:]
            else:
                nsn = raw
            if len(nsn) == _NSN_LEN and nsn.isdigit() and nsn.isascii() and nsn[:2] in PREFIX_HINTS:
                return cls("233" + nsn)
            clean = _CLEAN_RE.fullmatch(_SEPARATORS.sub("", raw))
            if clean is not None:
                nsn = clean.group(1)
                if nsn[:2] in PREFIX_HINTS:
                    return cls("233" + nsn)
        if not isinstance(raw, str):
            raise InvalidMsisdn(f"phone number must be a string, got {type(raw).__name__}")
        text = _SEPARATORS.sub("", raw.strip())
        if text.startswith("+"):
            text = text[1:]
        elif text.startswith("00"):
            text = text[2:]
        if not (text.isascii() and text.isdigit()):
            raise InvalidMsisdn(f"{raw!r} is not a phone number (digits only)")
        if len(text) == 12 and text.startswith("233"):
            nsn = text[3:]
        elif len(text) == 10 and text.startswith("0"):
            nsn = text[1:]
        elif len(text) == 9:
            nsn = text
        else:
            raise InvalidMsisdn(
                f"{raw!r} is not a Ghana mobile number (expected e.g. 0241234567 or 233241234567)"
            )
        if not _NSN_RE.fullmatch(nsn):
            raise InvalidMsisdn(f"{raw!r} is not a Ghana mobile number (must start 02x or 05x)")
        if nsn[:2] not in PREFIX_HINTS:
            raise InvalidMsisdn(
                f"{raw!r} is not on a mobile-money network (prefix 0{nsn[:2]} is not MTN, Telecel or AT)"
            )
        return cls("233" + nsn)

    @property
    def nsn(self) -> str:
        """The 9-digit national significant number (Airtel-style API form)."""
        return self.e164[3:]

    @property
    def national(self) -> str:
        """The 10-digit national form, 0XXXXXXXXX."""
        return "0" + self.nsn

    @property
    def network_hint(self) -> ProviderId:
        """The network that issued the prefix; a prior only (numbers are portable)."""
        return PREFIX_HINTS[self.nsn[:2]]

    @property
    def libphonenumber_valid(self) -> bool:
        """Whether libphonenumber's GH mobile ranges admit it (a miss is a warning only)."""
        number = phonenumbers.parse("+" + self.e164, "GH")
        return bool(phonenumbers.is_valid_number(number))

    @property
    def masked(self) -> str:
        """For logs: 23324****567."""
        return self.e164[:5] + "****" + self.e164[-3:]

    def __str__(self) -> str:
        return self.e164
