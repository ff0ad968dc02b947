"""Embedded mode: the gateway over httpx.ASGITransport to the in-process combined sandbox app."""

from __future__ import annotations

import uuid

import httpx
import pytest

from synccash.adapters.providers import build_gateway
from synccash.adapters.settings import Settings
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.ports import AttemptRequest
from synccash.core.providers import ProviderId

sandbox = pytest.importorskip("synccash.sandbox._combined")

NUMBERS = {
    ProviderId.MTN: "0241112233",
    ProviderId.AIRTELTIGO: "0261112233",
    ProviderId.TELECEL: "0201112233",
}


def collect(provider: ProviderId) -> AttemptRequest:
    """A GHS 5.00 collection."""
    return AttemptRequest(
        provider=provider,
        kind=AttemptKind.COLLECT,
        reference=str(uuid.uuid4()),
        amount=Money.parse("5.00"),
        msisdn=Msisdn.parse(NUMBERS[provider]),
        payment_id="payembedded1",
    )


@pytest.mark.parametrize("per_provider", [False, True], ids=["one-client", "client-per-provider"])
async def test_embedded_gateway_collects_on_every_sandbox(per_provider):
    """Default settings + ASGITransport: every provider's collection succeeds in-process."""
    callbacks: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        callbacks.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(inbox)) as callback_http:
        app = sandbox.create_combined_app(http_client=callback_http)
        transport = httpx.ASGITransport(app=app)
        if per_provider:
            http: object = {
                p: httpx.AsyncClient(transport=transport, base_url=f"http://sandbox/{p.value}")
                for p in ProviderId
            }
        else:
            http = httpx.AsyncClient(transport=transport)
        gateway = build_gateway(Settings.from_env({}), http)  # type: ignore[arg-type]
        async with app.running():
            for provider in ProviderId:
                req = collect(provider)
                assert (await gateway.submit(req)).kind is OutcomeKind.PENDING
                status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
                assert status.kind is OutcomeKind.SUCCEEDED
        debits = [e for name in ("mtn", "airteltigo", "telecel") for e in app[name].ledger]
        assert len(debits) == 3
        clients = http.values() if isinstance(http, dict) else [http]
        for client in clients:
            await client.aclose()  # type: ignore[attr-defined]
