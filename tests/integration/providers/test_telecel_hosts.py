"""Hubtel serves Telecel's calls from five hosts: each call must reach its own origin.

One Telecel sandbox is served five times, each origin with only the routes of one
Hubtel host (receive money, transaction status, send money, send-money status, name
verification); TELECEL_BASE_URL points at nothing. A call sent to the wrong host gets
that host's 404 and fails, so a client that mixes hosts up cannot pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import pytest_asyncio
from attrs import define, field
from contract_support import CallbackInbox, SandboxSet, number, request, settings_for

from synccash.adapters.providers import LookupUnavailable, MultiProviderGateway, build_gateway
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId
from synccash.sandbox import ManualClock, ProviderSandbox, SandboxWorld, serving, telecel
from synccash.sandbox._asgi import Receive, Scope, Send

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

#: Hubtel host -> the setting that names it.
SETTINGS = {
    "receive": "TELECEL_RECEIVE_URL",
    "status": "TELECEL_STATUS_URL",
    "send": "TELECEL_SEND_URL",
    "send_status": "TELECEL_SEND_STATUS_URL",
    "verify": "TELECEL_VERIFY_URL",
}
#: Nothing listens here: a call that falls back to the single base URL fails.
NOWHERE = "http://127.0.0.1:9"


@define
class Origin:
    """One Hubtel host: the sandbox's routes of that host, counting the requests it got."""

    app: telecel.SandboxApp
    paths: list[str] = field(factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@define
class Hubtel:
    """The Telecel sandbox behind its five origins."""

    sandbox: ProviderSandbox
    origins: dict[str, Origin]
    urls: dict[str, str]

    def env(self, **overrides: str) -> dict[str, str]:
        """Settings naming every host (an override points one host elsewhere)."""
        hosts = {**self.urls, **overrides}
        return {"TELECEL_BASE_URL": NOWHERE} | {SETTINGS[h]: url for h, url in hosts.items()}

    def hits(self) -> dict[str, int]:
        """Requests per host so far."""
        return {host: len(origin.paths) for host, origin in self.origins.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hubtel(world: SandboxWorld, sandbox_clock: ManualClock) -> AsyncIterator[Hubtel]:
    """One Telecel sandbox served as five origins, one per Hubtel host."""
    async with AsyncExitStack() as stack:
        callbacks = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
        sandbox = telecel.create_sandbox(world, clock=sandbox_clock, http_client=callbacks)
        stack.push_async_callback(sandbox.aclose)
        origins = {h: Origin(telecel.create_app(sandbox, hosts={h})) for h in SETTINGS}
        urls = {h: await stack.enter_async_context(serving(o)) for h, o in origins.items()}
        yield Hubtel(sandbox, origins, urls)


@pytest.fixture
def fresh_hubtel(hubtel: Hubtel) -> Hubtel:
    """The five origins with a reset sandbox and no recorded requests."""
    hubtel.sandbox.reset()
    for origin in hubtel.origins.values():
        origin.paths.clear()
    return hubtel


def gateway_for(
    env: dict[str, str], sandboxes: SandboxSet, inbox: CallbackInbox, http: httpx.AsyncClient
) -> MultiProviderGateway:
    """Our gateway from Settings with these Telecel hosts."""
    return build_gateway(settings_for(sandboxes, inbox, **env), http)


async def test_collection_goes_to_receive_then_status_host(
    fresh_hubtel: Hubtel, sandboxes, inbox, http
):
    """Receive money reaches the receive host, its status check the status host, nothing else."""
    gateway = gateway_for(fresh_hubtel.env(), sandboxes, inbox, http)
    req = request(ProviderId.TELECEL, number(ProviderId.TELECEL))
    assert OutcomeKind.PENDING is (await gateway.submit(req)).kind
    status = await gateway.status(ProviderId.TELECEL, AttemptKind.COLLECT, req.reference)
    assert OutcomeKind.SUCCEEDED is status.kind
    expected = {"receive": 1, "status": 1, "send": 0, "send_status": 0, "verify": 0}
    assert expected == fresh_hubtel.hits()


async def test_payout_goes_to_send_then_send_status_host(
    fresh_hubtel: Hubtel, sandboxes, inbox, http
):
    """Send money reaches the send host on the prepaid account, its status the send-status host."""
    gateway = gateway_for(fresh_hubtel.env(), sandboxes, inbox, http)
    req = request(ProviderId.TELECEL, number(ProviderId.TELECEL), kind=AttemptKind.DISBURSE)
    assert OutcomeKind.PENDING is (await gateway.submit(req)).kind
    status = await gateway.status(ProviderId.TELECEL, AttemptKind.DISBURSE, req.reference)
    assert OutcomeKind.SUCCEEDED is status.kind
    expected = {"receive": 0, "status": 0, "send": 1, "send_status": 1, "verify": 0}
    assert expected == fresh_hubtel.hits()
    assert (
        fresh_hubtel.origins["send"]
        .paths[0]
        .startswith(f"/api/merchants/{telecel.DEFAULT_CREDENTIALS['prepaid_account']}/")
    )


async def test_name_check_goes_to_verify_host(fresh_hubtel: Hubtel, sandboxes, inbox, http):
    """The name check reaches the name-verification host."""
    gateway = gateway_for(fresh_hubtel.env(), sandboxes, inbox, http)
    info = await gateway.lookup(ProviderId.TELECEL, Msisdn.parse(number(ProviderId.TELECEL)))
    assert info.active
    assert fresh_hubtel.hits() == {
        "receive": 0,
        "status": 0,
        "send": 0,
        "send_status": 0,
        "verify": 1,
    }


async def test_receive_money_on_a_wrong_host_fails(fresh_hubtel: Hubtel, sandboxes, inbox, http):
    """Receive money sent to the status host is a configuration failure, nothing is debited."""
    env = fresh_hubtel.env(receive=fresh_hubtel.urls["status"])
    gateway = gateway_for(env, sandboxes, inbox, http)
    outcome = await gateway.submit(request(ProviderId.TELECEL, number(ProviderId.TELECEL)))
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.CONFIGURATION)
    assert list(fresh_hubtel.sandbox.ledger) == []


async def test_send_money_on_a_wrong_host_fails(fresh_hubtel: Hubtel, sandboxes, inbox, http):
    """Send money sent to the receive host is a configuration failure, nothing is credited."""
    env = fresh_hubtel.env(send=fresh_hubtel.urls["receive"])
    gateway = gateway_for(env, sandboxes, inbox, http)
    req = request(ProviderId.TELECEL, number(ProviderId.TELECEL), kind=AttemptKind.DISBURSE)
    outcome = await gateway.submit(req)
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.CONFIGURATION)
    assert list(fresh_hubtel.sandbox.ledger) == []


@pytest.mark.parametrize(
    "host_kind", [("status", AttemptKind.COLLECT), ("send_status", AttemptKind.DISBURSE)]
)
async def test_status_on_a_wrong_host_is_never_read_as_not_accepted(
    fresh_hubtel: Hubtel, sandboxes, inbox, http, host_kind
):
    """A status check on the wrong host is asked again (TRANSIENT), never NOT_FOUND."""
    host, kind = host_kind
    right = gateway_for(fresh_hubtel.env(), sandboxes, inbox, http)
    req = request(ProviderId.TELECEL, number(ProviderId.TELECEL), kind=kind)
    assert OutcomeKind.PENDING is (await right.submit(req)).kind
    wrong = gateway_for(
        fresh_hubtel.env(**{host: fresh_hubtel.urls["verify"]}), sandboxes, inbox, http
    )
    outcome = await wrong.status(ProviderId.TELECEL, kind, req.reference)
    assert (outcome.kind, outcome.provider_code) == (OutcomeKind.TRANSIENT, "404")


async def test_name_check_on_a_wrong_host_is_unavailable(
    fresh_hubtel: Hubtel, sandboxes, inbox, http
):
    """A name check on the wrong host gives no answer rather than 'inactive wallet'."""
    env = fresh_hubtel.env(verify=fresh_hubtel.urls["receive"])
    gateway = gateway_for(env, sandboxes, inbox, http)
    with pytest.raises(LookupUnavailable):
        await gateway.lookup(ProviderId.TELECEL, Msisdn.parse(number(ProviderId.TELECEL)))
