"""The shape every provider client has, and the small values they return besides outcomes."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from attrs import frozen

from synccash.core.errors import DomainError
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest
from synccash.core.providers import ProviderId


class ProviderClient(Protocol):
    """One provider's API, as the gateway dispatches to it."""

    @property
    def provider(self) -> ProviderId:
        """Which provider this client speaks to."""
        ...

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Send (or re-send with the same reference) one attempt."""
        ...

    async def status(self, kind: AttemptKind, reference: str) -> ProviderOutcome:
        """Ask for the state of an attempt."""
        ...

    async def lookup(self, msisdn: Msisdn) -> AccountInfo:
        """Account-holder lookup; raises LookupUnavailable when the provider gave no answer."""
        ...


class LookupUnavailable(DomainError):
    """The provider gave no usable answer to an account-holder lookup (try again later).

    A lookup has no 'unknown' AccountInfo: guessing 'inactive' would misroute a
    ported number, so the caller decides what to do without an answer.
    """

    code = "provider_lookup_unavailable"


@frozen
class Balance:
    """A provider account balance in major units (the provider's own currency)."""

    available: Decimal
    currency: str


def callback_url(public_base_url: str, provider: ProviderId, reference: str) -> str:
    """The per-attempt callback URL we give providers.

    MTN's callback body carries the externalId but not the reference, so the
    reference travels in the path: `{PUBLIC_BASE_URL}/api/v1/callbacks/{provider}/{reference}`.
    """
    return f"{public_base_url.rstrip('/')}/api/v1/callbacks/{provider.value}/{reference}"
