"""Callbacks over real HTTP: MTN's shape, duplicates, drops, out-of-order, real approval delay."""

from __future__ import annotations

import pytest
from sandbox_mtn_wire import auth, request_to_pay

from synccash.sandbox import ApprovalDelay, mtn, serving

pytestmark = pytest.mark.integration

PAYER = "233241234567"


async def test_mtn_callback_shape(http, mtn_url, receiver):
    """One POST, LWAC user agent, no auth header, status body without the reference id."""
    recorder, url = receiver
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/1")
    [callback] = await recorder.wait_for(1)
    assert callback["method"] == "POST"
    assert callback["path"] == "/cb/mtn/1"
    assert callback["headers"]["user-agent"] == "LWAC Http Client 1.0"
    assert "authorization" not in callback["headers"]
    body = callback["json"]
    assert (body["status"], body["payer"]["partyId"]) == ("SUCCESSFUL", PAYER)
    assert body["financialTransactionId"]
    assert reference not in callback["json"].values()


async def test_no_callback_without_url(http, mtn_url, mtn_sandbox):
    """Without X-Callback-Url nothing is sent."""
    headers = await auth(http, mtn_url)
    await request_to_pay(http, mtn_url, headers, PAYER)
    assert mtn_sandbox.callbacks_sent == []


async def test_duplicate_callbacks(http, mtn_url, mtn_sandbox, receiver):
    """duplicate_callback_rate=1 delivers the same body twice."""
    recorder, url = receiver
    mtn_sandbox.set_faults(duplicate_callback_rate=1.0)
    headers = await auth(http, mtn_url)
    await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb")
    first, second = await recorder.wait_for(2)
    assert first["json"] == second["json"]


async def test_dropped_callback(http, mtn_url, mtn_sandbox, receiver):
    """drop_callback_rate=1 sends nothing although the payment succeeded."""
    _, url = receiver
    mtn_sandbox.set_faults(drop_callback_rate=1.0)
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb")
    assert mtn_sandbox.attempt(reference).status == "success"
    assert mtn_sandbox.callbacks_sent == []


async def test_out_of_order_callback(http, mtn_url, mtn_sandbox, receiver):
    """out_of_order_callback_rate=1 sends a stale PENDING after the final SUCCESSFUL."""
    recorder, url = receiver
    mtn_sandbox.set_faults(out_of_order_callback_rate=1.0)
    headers = await auth(http, mtn_url)
    await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb")
    first, second = await recorder.wait_for(2)
    assert (first["json"]["status"], second["json"]["status"]) == ("SUCCESSFUL", "PENDING")


async def test_put_callback_method(http, mtn_url, mtn_sandbox, receiver):
    """Option callback_method=PUT makes MTN call back with PUT."""
    recorder, url = receiver
    mtn_sandbox.config.options["callback_method"] = "PUT"
    headers = await auth(http, mtn_url)
    await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb")
    [callback] = await recorder.wait_for(1)
    assert callback["method"] == "PUT"


async def test_approval_delay_keeps_pending_then_calls_back(http, world, receiver):
    """With a real approval delay the status is PENDING first; the timer then settles and calls back."""
    recorder, url = receiver
    sandbox = mtn.create_sandbox(world)
    sandbox.config.approval_delay = ApprovalDelay(0.2, 0.2)
    async with serving(mtn.create_app(sandbox)) as base:
        headers = await auth(http, base)
        reference, _ = await request_to_pay(http, base, headers, PAYER, callback=f"{url}/cb")
        pending = await http.get(
            f"{base}/collection/v1_0/requesttopay/{reference}", headers=headers
        )
        [callback] = await recorder.wait_for(1)
    await sandbox.aclose()
    assert pending.json()["status"] == "PENDING"
    assert callback["json"]["status"] == "SUCCESSFUL"
    assert len(sandbox.ledger.debits(PAYER)) == 1
