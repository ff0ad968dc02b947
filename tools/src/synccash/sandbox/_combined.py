"""All three sandboxes in one ASGI app, and the ``serve`` entry point for the CLI."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import httpx
import uvicorn

from synccash.sandbox import airteltigo, mtn, telecel
from synccash.sandbox._app import SandboxApp
from synccash.sandbox._asgi import Receive, Response, Scope, Send, send_response
from synccash.sandbox._numbers import PROVIDERS, ProviderName
from synccash.sandbox._sandbox import ApprovalDelay, Clock, ProviderSandbox
from synccash.sandbox._server import SandboxHttpProtocol
from synccash.sandbox._world import SandboxError, SandboxWorld

#: Where each sandbox is mounted in the combined app (matches settings.py base URLs).
MOUNTS: Final[dict[ProviderName, str]] = {
    "mtn": "/mtn",
    "airteltigo": "/airteltigo",
    "telecel": "/telecel",
}

_MODULES: Final[dict[ProviderName, Any]] = {
    "mtn": mtn,
    "airteltigo": airteltigo,
    "telecel": telecel,
}


def create_sandbox(
    provider: ProviderName,
    world: SandboxWorld | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock = time.time,
    seed: int = 0,
    approval_delay: ApprovalDelay | None = None,
) -> ProviderSandbox:
    """A provider's sandbox with its default configuration (credentials from settings.py)."""
    module = _MODULES[provider]
    config = module.default_config()
    if approval_delay is not None:
        config.approval_delay = approval_delay
    sandbox: ProviderSandbox = module.create_sandbox(
        world, http_client=http_client, clock=clock, seed=seed, config=config
    )
    return sandbox


def create_app(sandbox: ProviderSandbox) -> SandboxApp:
    """The ASGI app for a sandbox, whichever provider it emulates."""
    app: SandboxApp = _MODULES[sandbox.provider].create_app(sandbox)
    return app


class CombinedApp:
    """MTN at /mtn, AT at /airteltigo, Telecel at /telecel, sharing one world."""

    def __init__(self, sandboxes: dict[ProviderName, ProviderSandbox]) -> None:
        self.sandboxes = sandboxes
        self._apps = {MOUNTS[name]: create_app(sandbox) for name, sandbox in sandboxes.items()}

    def __getitem__(self, provider: ProviderName) -> ProviderSandbox:
        """The sandbox of one provider."""
        return self.sandboxes[provider]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: dispatch on the path prefix."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        for prefix, app in self._apps.items():
            if path == prefix or path.startswith(prefix + "/"):
                child = dict(scope)
                child["path"] = path[len(prefix) :] or "/"
                child["root_path"] = scope.get("root_path", "") + prefix
                await app(child, receive, send)
                return
        if scope["type"] == "http":
            await send_response(
                send, Response.json(404, {"error": "unknown sandbox", "mounts": list(self._apps)})
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover
            return
        async with self.running():
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Open every sandbox's background task group (use it in embedded mode)."""
        async with contextlib.AsyncExitStack() as stack:
            for sandbox in self.sandboxes.values():
                await stack.enter_async_context(sandbox.running())
            yield

    async def aclose(self) -> None:
        """Stop background work of every sandbox."""
        for sandbox in self.sandboxes.values():
            await sandbox.aclose()


def create_combined_app(
    world: SandboxWorld | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock = time.time,
    seed: int = 0,
    approval_delay: ApprovalDelay | None = None,
) -> CombinedApp:
    """The three sandboxes on one world, mounted at /mtn, /airteltigo and /telecel.

    ``http_client`` sends callbacks (an ASGITransport client in embedded mode).
    """
    world = world if world is not None else SandboxWorld()
    sandboxes: dict[ProviderName, ProviderSandbox] = {}
    for offset, name in enumerate(PROVIDERS):
        sandboxes[name] = create_sandbox(
            name,
            world,
            http_client=http_client,
            clock=clock,
            seed=seed + offset,
            approval_delay=approval_delay,
        )
    return CombinedApp(sandboxes)


#: Approval delay used by ``serve`` (people take a moment to approve on their phones).
SERVE_APPROVAL_DELAY: Final = ApprovalDelay(1.0, 3.0)


def build_served_app(
    provider: str | None,
    *,
    world: SandboxWorld | None = None,
    approval_delay: ApprovalDelay = SERVE_APPROVAL_DELAY,
    seed: int = 0,
) -> CombinedApp | SandboxApp:
    """What ``serve`` runs: one provider at the root, or all three mounted."""
    if provider is None or provider == "all":
        return create_combined_app(world, approval_delay=approval_delay, seed=seed)
    if provider not in _MODULES:
        raise SandboxError(f"unknown provider {provider!r}; choose one of {sorted(_MODULES)}")
    name: ProviderName = next(p for p in PROVIDERS if p == provider)
    return create_app(create_sandbox(name, world, seed=seed, approval_delay=approval_delay))


async def serve(
    provider: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8100,
    *,
    world: SandboxWorld | None = None,
    approval_delay: ApprovalDelay = SERVE_APPROVAL_DELAY,
    seed: int = 0,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run a sandbox (or all three under /mtn, /airteltigo, /telecel) until interrupted.

    For ``synccash sandbox run --provider mtn --port 8101``: that provider at the root.
    """
    app = build_served_app(provider, world=world, approval_delay=approval_delay, seed=seed)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_level=log_level,
            http=SandboxHttpProtocol,
        )
    )
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    await server.serve()
