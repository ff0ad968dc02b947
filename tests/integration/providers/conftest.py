"""Contract-test fixtures: each provider sandbox served by uvicorn on 127.0.0.1 (random port),
our gateway built from Settings pointing at them, and a callback receiver standing in for
SyncCash's public callback endpoint.

The servers live for the whole module (one event loop per module: the tests
mark themselves `asyncio(loop_scope="module")`); every test starts from reset
sandboxes, a fresh world of wallets and a fresh gateway.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from types import ModuleType

import httpx
import pytest
import pytest_asyncio
from contract_support import CallbackInbox, SandboxSet, settings_for

from synccash.adapters.providers import MultiProviderGateway, build_gateway, provider_http_client
from synccash.sandbox import ManualClock, SandboxWorld, serving


def sandbox_module(name: str) -> ModuleType | None:
    """The sandbox module of a provider, or None while it is not written yet."""
    try:
        return importlib.import_module(f"synccash.sandbox.{name}")
    except ImportError:
        return None


@pytest.fixture(scope="module")
def world() -> SandboxWorld:
    """One world of wallets shared by every sandbox (so numbers can be ported)."""
    return SandboxWorld()


@pytest.fixture(scope="module")
def sandbox_clock() -> ManualClock:
    """The sandboxes' clock, moved by hand (approval timing, token expiry)."""
    return ManualClock()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def inbox() -> AsyncIterator[CallbackInbox]:
    """Records provider callbacks over real HTTP."""
    recorder = CallbackInbox()
    async with serving(recorder) as url:
        recorder.base_url = url
        yield recorder


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandboxes(
    world: SandboxWorld, sandbox_clock: ManualClock, inbox: CallbackInbox
) -> AsyncIterator[SandboxSet]:
    """Every sandbox that exists, each on its own uvicorn server."""
    found = SandboxSet()
    async with AsyncExitStack() as stack:
        callback_http = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
        for name in ("mtn", "airteltigo", "telecel"):
            module = sandbox_module(name)
            if module is None:
                continue
            sandbox = module.create_sandbox(world, clock=sandbox_clock, http_client=callback_http)
            stack.push_async_callback(sandbox.aclose)
            url = await stack.enter_async_context(serving(module.create_app(sandbox)))
            found.add(name, sandbox, url)
        yield found


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def fresh_state(
    sandboxes: SandboxSet, world: SandboxWorld, inbox: CallbackInbox
) -> AsyncIterator[None]:
    """Each test starts with no attempts, ledgers, faults, tokens, wallets or callbacks."""
    for sandbox in sandboxes.sandboxes.values():
        sandbox.reset()
    world.reset()
    inbox.received.clear()
    yield
    for sandbox in sandboxes.sandboxes.values():
        sandbox.faults.reset()


@pytest.fixture(scope="module")
def _recorded() -> list[httpx.Request]:
    return []


@pytest.fixture
def traffic(_recorded: list[httpx.Request]) -> list[httpx.Request]:
    """Every request our clients sent during this test (recorded by an httpx event hook)."""
    _recorded.clear()
    return _recorded


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["fast", "httpx"])
async def http(
    request: pytest.FixtureRequest, _recorded: list[httpx.Request]
) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client injected into our provider clients (built once: TLS setup is slow).

    Both clients the composition root can build (ENGINE_PROVIDER_HTTP): the HTTP/1.1
    engine (`provider_http_client`) and plain httpx, so every contract test runs over both.
    """

    async def record(sent: httpx.Request) -> None:
        _recorded.append(sent)

    client = (
        provider_http_client(httpx.Timeout(5.0), concurrency=8)
        if request.param == "fast"
        else httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
    )
    async with client:
        client.event_hooks = {"request": [record]}
        yield client


@pytest.fixture
def gateway(
    sandboxes: SandboxSet,
    inbox: CallbackInbox,
    http: httpx.AsyncClient,
    traffic: list[httpx.Request],
) -> MultiProviderGateway:
    """Our gateway over real HTTP to the sandboxes, wired by build_gateway from Settings."""
    return build_gateway(settings_for(sandboxes, inbox), http)
