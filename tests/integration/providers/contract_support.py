"""Helpers for provider contract tests: a callback inbox and the set of running sandboxes."""

from __future__ import annotations

import random
import uuid
from typing import Any

import anyio
import pytest
from attrs import define, field

from synccash.adapters.providers.telecel import client_reference
from synccash.adapters.settings import Settings
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind
from synccash.core.ports import AttemptRequest
from synccash.core.providers import ProviderId
from synccash.sandbox import ProviderSandbox, ghana_test_number
from synccash.sandbox._asgi import Receive, Response, Scope, Send, read_request, send_response


@define
class Received:
    """One callback as it reached us."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def _after_callbacks(self) -> list[str]:
        parts = [p for p in self.path.split("/") if p]
        return parts[parts.index("callbacks") + 1 :] if "callbacks" in parts else []

    @property
    def provider(self) -> ProviderId:
        """The provider named in /api/v1/callbacks/{provider}[/{reference}]."""
        return ProviderId(self._after_callbacks()[0])

    @property
    def path_reference(self) -> str | None:
        """The reference named in the path, when there is one."""
        rest = self._after_callbacks()
        return rest[1] if len(rest) > 1 else None


@define
class CallbackInbox:
    """A tiny ASGI app standing in for SyncCash's callback endpoint; answers 200."""

    base_url: str = ""
    received: list[Received] = field(factory=list)
    _event: anyio.Event = field(factory=anyio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
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
            Received(request.method, request.path, dict(request.headers), request.body)
        )
        self._event.set()
        await send_response(send, Response.json(200, {"ok": True}))

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait (bounded) until `count` callbacks arrived."""
        with anyio.fail_after(timeout):
            while len(self.received) < count:
                self._event = anyio.Event()
                await self._event.wait()
        return self.received


@define
class SandboxSet:
    """The sandboxes running for one test, by provider name."""

    sandboxes: dict[str, ProviderSandbox] = field(factory=dict)
    urls: dict[str, str] = field(factory=dict)

    def add(self, name: str, sandbox: ProviderSandbox, url: str) -> None:
        """Register a running sandbox."""
        self.sandboxes[name] = sandbox
        self.urls[name] = url

    def get(self, provider: ProviderId) -> ProviderSandbox:
        """The sandbox of a provider (skips the test while it does not exist yet)."""
        if provider.value not in self.sandboxes:
            pytest.skip(f"the {provider.value} sandbox is not written yet")
        return self.sandboxes[provider.value]

    def debits(self, provider: ProviderId, reference: str) -> list[Any]:
        """Ledger debits the provider recorded for one attempt reference (in its own form)."""
        if provider is ProviderId.TELECEL:
            reference = client_reference(reference)  # Hubtel's dashless ClientReference
        return [e for e in self.get(provider).ledger.for_reference(reference) if e.kind == "debit"]


def request(
    provider: ProviderId,
    msisdn: str,
    *,
    kind: AttemptKind = AttemptKind.COLLECT,
    amount: str = "12.50",
    reference: str | None = None,
    **extra: Any,
) -> AttemptRequest:
    """An attempt with a fresh UUID4 reference."""
    return AttemptRequest(
        provider=provider,
        kind=kind,
        reference=reference or str(uuid.uuid4()),
        amount=Money.parse(amount),
        msisdn=Msisdn.parse(msisdn),
        payment_id=f"pay{uuid.uuid4().hex[:12]}",
        note="Order 42",
        **extra,
    )


def number(provider: ProviderId, suffix: str | None = None) -> str:
    """A sandbox test number (0XX00000NN) on the provider's network, or a fresh plain one."""
    if suffix is not None:
        return ghana_test_number(provider.value, suffix)  # type: ignore[arg-type]
    prefix = ghana_test_number(provider.value, "00")[3:5]  # type: ignore[arg-type]
    return f"233{prefix}{random.randint(1_000_000, 9_999_999)}"


def settings_for(sandboxes: SandboxSet, inbox: CallbackInbox, **extra: str) -> Settings:
    """Settings pointing every provider at its sandbox and callbacks at the inbox."""
    env = {"PUBLIC_BASE_URL": inbox.base_url, **extra}
    names = {
        "mtn": "MTN_BASE_URL",
        "airteltigo": "AIRTELTIGO_BASE_URL",
        "telecel": "TELECEL_BASE_URL",
    }
    for name, url in sandboxes.urls.items():
        env[names[name]] = url
    return Settings.from_env(env)
