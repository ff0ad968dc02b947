"""SANDBOX_MODE=embedded: the three provider sandboxes in this process, and clients to them.

The CLI (not the adapters) builds them and passes `EmbeddedProviders.clients` to
`bootstrap(settings, provider_clients=...)`: the real provider clients then talk to the
sandboxes through httpx's ASGI transport, unchanged; the sandboxes' callbacks go to
PUBLIC_BASE_URL over real HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Final

import httpx
from attrs import frozen

from synccash.adapters.settings import Settings
from synccash.core.ledger import topup_entry
from synccash.core.money import Money
from synccash.core.ports import Ledger
from synccash.core.providers import ProviderId
from synccash.sandbox import (
    SERVE_APPROVAL_DELAY,
    ApprovalDelay,
    CombinedApp,
    SandboxConfig,
    create_combined_app,
)

#: What the embedded sandboxes hold for us at each provider (their merchant float).
SANDBOX_FLOAT: Final = Money(SandboxConfig().merchant_balance_minor)


async def seed_sandbox_floats(ledger: Ledger, at: datetime) -> None:
    """Record, once, the float the embedded sandboxes start with at each provider, so the
    books know it and transfers and payouts can disburse under `synccash serve` (a real
    deployment records its top-ups with `synccash ledger topup`)."""
    await ledger.post(
        [topup_entry(f"topup:embedded-sandbox:{p.value}", p, SANDBOX_FLOAT) for p in ProviderId],
        at,
    )


@frozen
class EmbeddedProviders:
    """The running sandboxes (their wallets, ledgers, faults) and one client per provider."""

    app: CombinedApp
    clients: Mapping[ProviderId, httpx.AsyncClient]


@asynccontextmanager
async def embedded_providers(
    settings: Settings, *, approval_delay: ApprovalDelay = SERVE_APPROVAL_DELAY
) -> AsyncIterator[EmbeddedProviders]:
    """Start the sandboxes (payers approve after `approval_delay`) and open their clients."""
    async with AsyncExitStack() as stack:
        callback_http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        )
        app = create_combined_app(http_client=callback_http, approval_delay=approval_delay)
        await stack.enter_async_context(app.running())
        stack.push_async_callback(app.aclose)
        timeout = httpx.Timeout(settings.provider_timeout_seconds, connect=5.0)
        transport = httpx.ASGITransport(app=app)
        clients = {
            provider: await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport,
                    base_url=f"http://sandbox/{provider.value}",
                    timeout=timeout,
                )
            )
            for provider in ProviderId
        }
        yield EmbeddedProviders(app, clients)


@asynccontextmanager
async def provider_clients_for(
    settings: Settings,
) -> AsyncIterator[Mapping[ProviderId, httpx.AsyncClient] | None]:
    """The embedded sandboxes' clients in embedded mode; None (bootstrap opens real ones) else."""
    if not settings.embedded_sandboxes:
        yield None
        return
    async with embedded_providers(settings) as embedded:
        yield embedded.clients
