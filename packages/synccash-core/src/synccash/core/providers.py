"""The mobile-money providers SyncCash routes to and what each can do."""

from __future__ import annotations

import enum
from typing import Final

from attrs import frozen

from synccash.core.errors import UnknownProvider
from synccash.core.money import Money


class ProviderId(enum.StrEnum):
    """A wallet provider (EMI). Values are the API's provider names."""

    MTN = "mtn"
    AIRTELTIGO = "airteltigo"  # AT Money, formerly AirtelTigo Money
    TELECEL = "telecel"  # Telecel Cash, formerly Vodafone Cash

    @classmethod
    def parse(cls, value: object) -> ProviderId:
        """Parse a provider name (case-insensitive, a few well-known aliases)."""
        if type(value) is str:
            exact = _EXACT.get(value)
            if exact is not None:  # fast path: an exact name or alias, no exception
                return exact
        elif isinstance(value, ProviderId):
            return value
        if not isinstance(value, str):
            raise UnknownProvider(f"provider must be a string, got {type(value).__name__}")
        key = value.strip().lower()
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise UnknownProvider(f"unknown provider {value!r}; use one of: {names}") from None

    @property
    def display_name(self) -> str:
        """Human name of the wallet."""
        return _DISPLAY[self]


_ALIASES: Final = {
    "at": "airteltigo",
    "atmoney": "airteltigo",
    "at_money": "airteltigo",
    "airtel": "airteltigo",
    "tigo": "airteltigo",
    "vodafone": "telecel",
    "voda": "telecel",
    "momo": "mtn",
}
#: Exact (already lower-case, unpadded) names and aliases -> provider.
_EXACT: Final[dict[str, ProviderId]] = {
    **{p.value: p for p in ProviderId},
    **{alias: ProviderId(name) for alias, name in _ALIASES.items()},
}
_DISPLAY: Final = {
    ProviderId.MTN: "MTN MoMo",
    ProviderId.AIRTELTIGO: "AT Money",
    ProviderId.TELECEL: "Telecel Cash",
}


class Capability(enum.StrEnum):
    """What a provider's API lets SyncCash do."""

    COLLECT = "collect"
    DISBURSE = "disburse"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"  # refund less than the whole payment
    REFUND_STATUS = "refund_status"  # a status enquiry for refunds exists
    NAME_LOOKUP = "name_lookup"
    BALANCE = "balance"


@frozen
class ProviderProfile:
    """Static facts about a provider: capabilities and per-transaction limits."""

    provider: ProviderId
    capabilities: frozenset[Capability]
    min_amount: Money
    max_amount: Money

    def can(self, capability: Capability) -> bool:
        """True if the provider supports the capability."""
        return capability in self.capabilities

    def within_limits(self, amount: Money) -> bool:
        """True if one transaction of this amount is allowed by the provider."""
        return self.min_amount <= amount <= self.max_amount


_ALL = frozenset(Capability)

#: Defaults; per-transaction caps follow the BoG enhanced-KYC daily limit (GHS 25,000).
DEFAULT_PROFILES: Final[dict[ProviderId, ProviderProfile]] = {
    ProviderId.MTN: ProviderProfile(ProviderId.MTN, _ALL, Money(100), Money(2_500_000)),
    ProviderId.AIRTELTIGO: ProviderProfile(
        ProviderId.AIRTELTIGO,
        frozenset({Capability.COLLECT, Capability.DISBURSE, Capability.REFUND, Capability.BALANCE}),
        Money(100),
        Money(2_500_000),
    ),
    ProviderId.TELECEL: ProviderProfile(
        ProviderId.TELECEL,
        frozenset(
            {
                Capability.COLLECT,
                Capability.DISBURSE,
                Capability.REFUND,
                Capability.PARTIAL_REFUND,  # refunds go out as Send Money of any amount
                Capability.REFUND_STATUS,
                Capability.NAME_LOOKUP,
            }
        ),
        Money(100),
        Money(2_500_000),
    ),
}
