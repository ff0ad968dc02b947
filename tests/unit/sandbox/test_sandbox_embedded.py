"""Embedded mode: the combined app through httpx.ASGITransport, callbacks to an injected ASGI client."""

from __future__ import annotations

import base64
import json
import uuid

import anyio
import httpx
import pytest

from synccash.sandbox import (
    ApprovalDelay,
    Faults,
    ManualClock,
    SandboxError,
    build_served_app,
    create_combined_app,
    mtn,
)
from synccash.sandbox._asgi import Request, Response, read_request, send_response
from synccash.sandbox._sandbox import ProviderSandbox
from synccash.sandbox.mtn import DEFAULT_CREDENTIALS


class Recorder:
    """An ASGI app standing in for the SyncCash API's callback endpoint."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.arrived = anyio.Event()

    async def __call__(self, scope, receive, send):
        """Record the JSON body and answer 200."""
        request: Request = await read_request(scope, receive)
        self.bodies.append(json.loads(request.body))
        self.arrived.set()
        await send_response(send, Response.json(200, {}))


async def test_embedded_payment_and_callback():
    """A request to pay through ASGITransport succeeds and the callback reaches the injected client."""
    recorder = Recorder()
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=recorder), base_url="http://api"
        ) as api,
    ):
        combined = create_combined_app(http_client=api)
        transport = httpx.ASGITransport(app=combined)
        async with (
            combined.running(),
            httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http,
        ):
            user, key = (
                DEFAULT_CREDENTIALS["collection_user_id"],
                DEFAULT_CREDENTIALS["collection_api_key"],
            )
            sub = {"Ocp-Apim-Subscription-Key": DEFAULT_CREDENTIALS["collection_subscription_key"]}
            basic = base64.b64encode(f"{user}:{key}".encode()).decode()
            token = (
                await http.post(
                    "/mtn/collection/token/", headers={"Authorization": f"Basic {basic}", **sub}
                )
            ).json()
            headers = {
                "Authorization": f"Bearer {token['access_token']}",
                "X-Target-Environment": "sandbox",
                "X-Reference-Id": str(uuid.uuid4()),
                "X-Callback-Url": "http://api/callbacks/mtn/1",
                **sub,
            }
            body = {
                "amount": "3",
                "currency": "EUR",
                "externalId": "1",
                "payer": {"partyIdType": "MSISDN", "partyId": "233241234567"},
            }
            response = await http.post(
                "/mtn/collection/v1_0/requesttopay", headers=headers, json=body
            )
            sandbox: ProviderSandbox = combined["mtn"]
            with anyio.fail_after(5):
                await recorder.arrived.wait()
        await combined.aclose()
    assert response.status_code == 202
    assert recorder.bodies[0]["status"] == "SUCCESSFUL"
    assert len(sandbox.ledger.debits()) == 1


def test_build_served_app():
    """serve() runs one provider at the root or all three mounted; unknown names are refused."""
    assert build_served_app("mtn").sandbox.provider == "mtn"
    assert set(build_served_app(None).sandboxes) == {"mtn", "airteltigo", "telecel"}
    assert build_served_app("telecel").sandbox.config.approval_delay.max_seconds == 3.0
    with pytest.raises(SandboxError):
        build_served_app("vodafone")


def test_fixed_latency_without_jitter():
    """latency_ms is added as is when there is no jitter."""
    faults = Faults()
    faults.update(latency_ms=250)
    assert faults.extra_latency_seconds() == 0.25


async def test_reset_forgets_pending_timers_and_restores_config():
    """After reset a forgotten attempt's timer moves no money, and config is back to its start."""
    clock = ManualClock()
    sandbox = mtn.create_sandbox(clock=clock, config=_delayed_config())
    attempt = sandbox.accept("collection", "ref-1", "233241234567", 100, "GHS", provider_txn_id="1")
    sandbox.config.options["reason_format"] = "object"
    sandbox.reset()
    clock.advance(10)
    sandbox._settle(attempt)  # what its timer would do now
    await sandbox.aclose()
    assert sandbox.ledger.entries == ()
    assert attempt.status == "pending"
    assert sandbox.config.options["reason_format"] == "string"
    assert sandbox.config.approval_delay == ApprovalDelay(5, 5)


def _delayed_config():
    """MTN's default config with a 5 s approval delay."""
    config = mtn.default_config()
    config.approval_delay = ApprovalDelay(5, 5)
    return config
