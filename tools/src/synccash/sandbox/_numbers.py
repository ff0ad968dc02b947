"""Ghana numbering and the sandbox test-number table.

The sandboxes keep their own tiny prefix table on purpose: they emulate the
networks and must not borrow SyncCash's own MSISDN code (an import contract
forbids it). A wallet key is the canonical international form
``233XXXXXXXXX`` (12 digits) or, for MTN's documented test numbers, the number
as MTN publishes it (``46733123450`` …).
"""

from __future__ import annotations

import re
from typing import Final, Literal

from attrs import field, frozen, validators

#: Provider ids, the same strings SyncCash uses (``mtn``, ``airteltigo``, ``telecel``).
ProviderName = Literal["mtn", "airteltigo", "telecel"]
PROVIDERS: Final[tuple[ProviderName, ...]] = ("mtn", "airteltigo", "telecel")

#: Two-digit network prefixes of the 9-digit national significant number (NSN).
PREFIXES: Final[dict[str, ProviderName]] = {
    **dict.fromkeys(("24", "25", "53", "54", "55", "59"), "mtn"),
    **dict.fromkeys(("20", "50"), "telecel"),
    **dict.fromkeys(("26", "27", "56", "57", "23"), "airteltigo"),
}

_MTN_TEST = re.compile(r"^4673312345\d$|^4673312346[0-4]$")
_INTERNATIONAL = re.compile(r"^233(\d{9})$")
_NATIONAL = re.compile(r"^0(\d{9})$")
_NSN = re.compile(r"^(\d{9})$")
_FOREIGN = re.compile(r"^[1-9]\d{7,14}$")


def is_mtn_test_number(number: str) -> bool:
    """True for MTN's documented sandbox numbers 46733123450 … 46733123464."""
    return bool(_MTN_TEST.match(number))


def canonical(number: str) -> str | None:
    """The wallet key for a number in any accepted form, or None if it is not one.

    Accepts ``233XXXXXXXXX``, ``+233…``, ``0XXXXXXXXX``, a bare 9-digit NSN, MTN's
    test numbers and other international numbers (kept as they are: MTN's own
    sandbox lets any number, e.g. 56733123453, pay; they live on MTN).
    """
    digits = number.strip().removeprefix("+")
    if is_mtn_test_number(digits):
        return digits
    for pattern in (_INTERNATIONAL, _NATIONAL, _NSN):
        found = pattern.match(digits)
        if found:
            return "233" + found.group(1)
    if _FOREIGN.match(digits) and not digits.startswith("233"):
        return digits
    return None


def nsn(key: str) -> str:
    """The 9-digit national significant number of a canonical Ghana key (Airtel wire form)."""
    return key[3:] if key.startswith("233") and len(key) == 12 else key


def network_of(key: str) -> ProviderName | None:
    """The network a number's prefix says it was issued on (numbers are portable)."""
    if key.startswith("233") and len(key) == 12:
        return PREFIXES.get(key[3:5])
    # MTN's test numbers and other foreign numbers exist only in MTN's sandbox.
    return "mtn" if key.isdigit() else None


@frozen
class Scenario:
    """What a test number does when it is asked to pay (or be paid).

    ``reason`` is a canonical reason code (MTN's vocabulary; each sandbox maps
    it to its own wire form). ``final`` is "success", "failed" or None (never
    resolves). ``ongoing`` keeps the attempt pending for the sandbox's
    ``ongoing_seconds`` after approval. ``reject_on_submit`` refuses the
    request itself (provider unavailable): nothing is recorded.
    """

    name: str
    final: Literal["success", "failed"] | None = field(
        default="success", validator=validators.in_(("success", "failed", None))
    )
    reason: str | None = None
    ongoing: bool = False
    reject_on_submit: bool = False
    stays_created: bool = False


SUCCESS: Final = Scenario("success")
_REJECTED = Scenario("payer_rejected", "failed", "APPROVAL_REJECTED")
_EXPIRED = Scenario("payer_expired", "failed", "EXPIRED")
_ONGOING = Scenario("payer_ongoing", ongoing=True)
_DELAYED = Scenario("payer_delayed", None, stays_created=True)
_NOT_FOUND = Scenario("payer_not_found", "failed", "PAYER_NOT_FOUND")
_NOT_ALLOWED = Scenario("payer_not_allowed", "failed", "NOT_ALLOWED")
_INTERNAL = Scenario("internal_error", "failed", "INTERNAL_PROCESSING_ERROR")
_UNAVAILABLE = Scenario(
    "service_unavailable", "failed", "SERVICE_UNAVAILABLE", reject_on_submit=True
)
_LIMIT = Scenario("limit_reached", "failed", "PAYER_LIMIT_REACHED")

#: Ghana test range, usable on all three sandboxes: national number ``0XX00000NN``
#: (NSN = two-digit prefix, ``00000``, then NN). Keyed by NN.
GHANA_TEST_SUFFIXES: Final[dict[str, Scenario]] = {
    "01": _REJECTED,
    "02": _EXPIRED,
    "03": _ONGOING,
    "04": _DELAYED,
    "05": _NOT_FOUND,
    "06": _NOT_ALLOWED,
    "07": _INTERNAL,
    "08": _UNAVAILABLE,
    "09": _LIMIT,
}

#: MTN's documented sandbox numbers (reference section 1.8, "portal" profile).
MTN_TEST_NUMBERS: Final[dict[str, Scenario]] = {
    "46733123450": Scenario("payer_failed", "failed", "INTERNAL_PROCESSING_ERROR"),
    "46733123451": _REJECTED,
    "46733123452": _EXPIRED,
    "46733123453": _ONGOING,
    "46733123454": _DELAYED,
    "46733123455": _NOT_FOUND,
    "46733123456": Scenario(
        "payee_not_allowed_to_receive", "failed", "PAYEE_NOT_ALLOWED_TO_RECEIVE"
    ),
    "46733123457": _NOT_ALLOWED,
    "46733123458": Scenario(
        "not_allowed_target_environment", "failed", "NOT_ALLOWED_TARGET_ENVIRONMENT"
    ),
    "46733123459": Scenario("invalid_callback_url_host", "failed", "INVALID_CALLBACK_URL_HOST"),
    "46733123460": Scenario("invalid_currency", "failed", "INVALID_CURRENCY"),
    "46733123461": _INTERNAL,
    "46733123462": _UNAVAILABLE,
    "46733123463": Scenario(
        "could_not_perform_transaction", "failed", "COULD_NOT_PERFORM_TRANSACTION"
    ),
    "46733123464": Scenario("transfer_type_unknown", "failed", "TRANSFERTYPE_UNKNOWN"),
}


#: MTN's "observed" profile (reference 1.8): 46733123453 stays PENDING, then ends
#: FAILED/EXPIRED instead of succeeding. Use as ``config.scenarios`` overrides.
MTN_OBSERVED_SCENARIOS: Final[dict[str, Scenario]] = {
    "46733123453": Scenario("payer_ongoing_observed", "failed", "EXPIRED", ongoing=True),
}


def scenario_for(key: str) -> Scenario:
    """The scenario of a canonical number: a test number's, else plain success."""
    if key in MTN_TEST_NUMBERS:
        return MTN_TEST_NUMBERS[key]
    if key.startswith("233") and len(key) == 12 and key[5:10] == "00000":
        return GHANA_TEST_SUFFIXES.get(key[10:], SUCCESS)
    return SUCCESS


def ghana_test_number(provider: ProviderName, suffix: str) -> str:
    """A canonical test number on a provider's first prefix, e.g. ("mtn", "01") -> 233240000001."""
    prefix = next(p for p, owner in PREFIXES.items() if owner == provider)
    return f"233{prefix}00000{suffix}"
