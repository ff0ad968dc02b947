"""The core's ProviderGateway port over the three provider clients, and its composition."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from synccash.adapters.providers._http import Clock
from synccash.adapters.providers._model import ProviderClient
from synccash.adapters.providers.airteltigo import AirtelTigoClient
from synccash.adapters.providers.mtn import MtnMomoClient
from synccash.adapters.providers.telecel import TelecelCashClient
from synccash.adapters.settings import Settings
from synccash.core.errors import UnknownProvider
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest
from synccash.core.providers import ProviderId


class MultiProviderGateway:
    """ProviderGateway: dispatches each call to the client of the named provider."""

    def __init__(self, clients: Mapping[ProviderId, ProviderClient]) -> None:
        """Keep one client per provider."""
        self._clients = dict(clients)

    def client(self, provider: ProviderId) -> ProviderClient:
        """The client for `provider`; UnknownProvider if none is configured."""
        try:
            return self._clients[provider]
        except KeyError:
            raise UnknownProvider(f"no client configured for provider {provider!s}") from None

    @property
    def providers(self) -> frozenset[ProviderId]:
        """Providers this gateway can reach."""
        return frozenset(self._clients)

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Send (or re-send, with the same reference) an attempt."""
        return await self.client(request.provider).submit(request)

    async def status(
        self, provider: ProviderId, kind: AttemptKind, reference: str
    ) -> ProviderOutcome:
        """Ask the provider for the state of an attempt."""
        return await self.client(provider).status(kind, reference)

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """Account-holder lookup (raises LookupUnavailable when the provider gave no answer)."""
        return await self.client(provider).lookup(msisdn)


HttpClients = httpx.AsyncClient | Mapping[ProviderId, httpx.AsyncClient]


def build_gateway(
    settings: Settings,
    http: HttpClients,
    clock: Clock = time.monotonic,
) -> MultiProviderGateway:
    """Build the three clients from settings over injected HTTP clients.

    `http` is one shared AsyncClient (production: absolute base URLs from
    settings) or one per provider. A client whose own `base_url` is set (e.g.
    an ASGITransport client over the in-process sandbox whose base_url already
    points at that provider) is used with relative paths; otherwise the
    provider's base URL from settings is prefixed. Every request's timeout comes
    from `settings.provider_timeout_seconds` (connect: at most 5 s).
    """

    def pick(provider: ProviderId) -> tuple[httpx.AsyncClient, str | None]:
        client = http if isinstance(http, httpx.AsyncClient) else http[provider]
        return client, ("" if str(client.base_url) else None)

    # Per request, so it holds whatever client was injected; connecting may take at most 5 s.
    seconds = settings.provider_timeout_seconds
    timeout = httpx.Timeout(seconds, connect=min(5.0, seconds))
    public = settings.public_base_url
    mtn_http, mtn_base = pick(ProviderId.MTN)
    at_http, at_base = pick(ProviderId.AIRTELTIGO)
    tc_http, tc_base = pick(ProviderId.TELECEL)
    clients: dict[ProviderId, ProviderClient] = {
        ProviderId.MTN: MtnMomoClient(
            mtn_http,
            collection=settings.mtn_collection,
            disbursement=settings.mtn_disbursement,
            target_environment=settings.mtn_target_environment,
            public_base_url=public,
            base_url=mtn_base,
            timeout=timeout,
            clock=clock,
        ),
        ProviderId.AIRTELTIGO: AirtelTigoClient(
            at_http, credentials=settings.airteltigo, base_url=at_base, timeout=timeout, clock=clock
        ),
        ProviderId.TELECEL: TelecelCashClient(
            tc_http,
            credentials=settings.telecel,
            public_base_url=public,
            base_url=tc_base,
            timeout=timeout,
            clock=clock,
        ),
    }
    return MultiProviderGateway(clients)
