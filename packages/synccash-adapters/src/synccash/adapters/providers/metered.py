"""A ProviderGateway wrapper that times every provider call and reports it to an observer.

The worker passes its Prometheus histogram's observe function (provider, operation, outcome,
seconds); the wrapped gateway's behaviour is unchanged, exceptions included.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest, ProviderGateway
from synccash.core.providers import ProviderId

#: observe(provider, operation, outcome, seconds); operation: submit, status or lookup.
CallObserver = Callable[[str, str, str, float], None]


class MeteredGateway:
    """Delegates to `inner`; reports each call's duration and outcome kind (or `error`)."""

    def __init__(self, inner: ProviderGateway, observe: CallObserver) -> None:
        self._inner = inner
        self._observe = observe

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Send an attempt, timed."""
        started = time.perf_counter()
        try:
            outcome = await self._inner.submit(request)
        except BaseException:
            self._observe(request.provider.value, "submit", "error", time.perf_counter() - started)
            raise
        self._observe(
            request.provider.value, "submit", outcome.kind.value, time.perf_counter() - started
        )
        return outcome

    async def status(
        self, provider: ProviderId, kind: AttemptKind, reference: str
    ) -> ProviderOutcome:
        """Ask for an attempt's state, timed."""
        started = time.perf_counter()
        try:
            outcome = await self._inner.status(provider, kind, reference)
        except BaseException:
            self._observe(provider.value, "status", "error", time.perf_counter() - started)
            raise
        self._observe(provider.value, "status", outcome.kind.value, time.perf_counter() - started)
        return outcome

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """Account-holder lookup, timed."""
        started = time.perf_counter()
        try:
            info = await self._inner.lookup(provider, msisdn)
        except BaseException:
            self._observe(provider.value, "lookup", "error", time.perf_counter() - started)
            raise
        outcome = "active" if info.active else "inactive"
        self._observe(provider.value, "lookup", outcome, time.perf_counter() - started)
        return info
