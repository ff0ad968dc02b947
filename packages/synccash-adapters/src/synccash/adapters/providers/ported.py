"""A ProviderGateway wrapper that remembers where ported numbers live (per process).

Numbers are portable; the account-holder lookup is the truth. The lifecycle asks it only
after a prefix network answered "not our customer", and a number found active on a network
is remembered here, so the next payment from (or payout to) that number costs no lookup.
The cache is bounded (oldest entry out first) and per process: a number ported again is
found again by the first payment that fails on its old network.
"""

from __future__ import annotations

from typing import Final

from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest, ProviderGateway
from synccash.core.providers import ProviderId

#: Numbers remembered per process.
PORTED_CACHE_SIZE: Final = 100_000


class PortedNumberCache:
    """ProviderGateway: `inner`'s calls, with lookups of numbers found active answered from memory."""

    def __init__(self, inner: ProviderGateway, size: int = PORTED_CACHE_SIZE) -> None:
        """Wrap `inner`; remember at most `size` numbers."""
        self._inner = inner
        self._size = size
        self._home: dict[str, AccountInfo] = {}  # e164 -> the active lookup answer

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """As `inner`."""
        return await self._inner.submit(request)

    async def status(
        self, provider: ProviderId, kind: AttemptKind, reference: str
    ) -> ProviderOutcome:
        """As `inner`."""
        return await self._inner.status(provider, kind, reference)

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """A number known to live elsewhere is inactive here without asking; else `inner`."""
        home = self._home.get(msisdn.e164)
        if home is not None:
            if home.provider is provider:
                return home
            return AccountInfo(provider, msisdn, active=False)
        info = await self._inner.lookup(provider, msisdn)
        if info.active:
            self._home[msisdn.e164] = info
            if len(self._home) > self._size:
                self._home.pop(next(iter(self._home)))
        return info
