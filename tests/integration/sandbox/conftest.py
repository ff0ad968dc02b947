"""Fixtures: sandboxes served by uvicorn on 127.0.0.1 (random port), and a callback receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from synccash.sandbox import CombinedApp, create_combined_app, mtn
from synccash.sandbox._asgi import Receive, Response, Scope, Send, read_request, send_response
from synccash.sandbox._sandbox import ManualClock, ProviderSandbox
from synccash.sandbox._server import serving
from synccash.sandbox._world import SandboxWorld


class CallbackReceiver:
    """A tiny ASGI app that records every request it gets (method, path, headers, JSON body)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.event = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        request = await read_request(scope, receive)
        self.received.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "json": json.loads(request.body) if request.body else None,
            }
        )
        self.event.set()
        await send_response(send, Response.json(200, {"ok": True}))

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        """Wait until ``count`` callbacks arrived (bounded, never a fixed sleep)."""
        with anyio.fail_after(timeout):
            while len(self.received) < count:
                self.event = anyio.Event()
                await self.event.wait()
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[CallbackReceiver, str]]:
    """A callback receiver over real HTTP: (recorder, base URL)."""
    recorder = CallbackReceiver()
    async with serving(recorder) as url:
        yield recorder, url


@pytest.fixture
def world() -> SandboxWorld:
    """A fresh world of wallets."""
    return SandboxWorld()


@pytest.fixture
def clock() -> ManualClock:
    """A hand-moved clock."""
    return ManualClock()


@pytest.fixture
async def mtn_sandbox(world: SandboxWorld, clock: ManualClock) -> AsyncIterator[ProviderSandbox]:
    """The MTN sandbox state (closed after the test)."""
    sandbox = mtn.create_sandbox(world, clock=clock)
    yield sandbox
    await sandbox.aclose()


@pytest.fixture
async def mtn_url(mtn_sandbox: ProviderSandbox) -> AsyncIterator[str]:
    """Base URL of the MTN sandbox served by uvicorn."""
    async with serving(mtn.create_app(mtn_sandbox)) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client."""
    # No keep-alive: uvicorn then has no open connection to wait for at shutdown.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=5.0, verify=False, limits=limits) as client:  # noqa: S501
        yield client


@pytest.fixture
async def combined(
    world: SandboxWorld, clock: ManualClock
) -> AsyncIterator[tuple[CombinedApp, str]]:
    """All three sandboxes mounted in one app served by uvicorn: (app, base URL)."""
    app = create_combined_app(world, clock=clock)
    async with serving(app) as url:
        yield app, url
    await app.aclose()
