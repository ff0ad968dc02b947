"""The API over payments the worker has moved on: callbacks, routed views, refunds."""

from __future__ import annotations

from api_helpers import MERCHANT, assert_problem, initiate_body, run_ready_tasks

from synccash.core.ports import TaskKind


async def _processing_payment(client, auth, initiate, container) -> dict:
    # a collection (one leg): one provider confirmation confirms it
    body = initiate_body(payee={"merchant_account": MERCHANT})
    payment_id = (await initiate(body)).json()["id"]
    await run_ready_tasks(container)
    response = await client.get(f"/api/v1/payments/{payment_id}/status", headers=auth())
    return response.json()


async def test_routed_payment_shows_provider_and_attempts(client, auth, initiate, container):
    """After the worker submits, the status view names the provider and the attempt."""
    status = await _processing_payment(client, auth, initiate, container)
    assert status["state"] == "PROCESSING"
    assert status["provider"] == "mtn"
    assert status["attempts"][0]["provider"] == "mtn"
    assert status["attempts"][0]["kind"] == "collect"
    detail = await client.get(f"/api/v1/payments/{status['id']}", headers=auth())
    body = detail.json()
    assert body["routing"] is not None
    assert [e["seq"] for e in body["events"]] == sorted(e["seq"] for e in body["events"])


async def test_callback_for_our_attempt_queues_a_status_check(client, auth, initiate, container):
    """An MTN callback naming our reference queues CHECK_STATUS and changes nothing by itself."""
    status = await _processing_payment(client, auth, initiate, container)
    reference = status["attempts"][0]["reference"]
    response = await client.put(
        f"/api/v1/callbacks/mtn/{reference}",
        json={"externalId": status["id"], "status": "SUCCESSFUL", "financialTransactionId": "1"},
    )
    assert response.status_code == 200
    after = await client.get(f"/api/v1/payments/{status['id']}/status", headers=auth())
    assert after.json()["state"] == "PROCESSING"
    handled = await run_ready_tasks(container)
    assert TaskKind.CHECK_STATUS in [t.kind for t in handled]
    confirmed = await client.get(f"/api/v1/payments/{status['id']}/status", headers=auth())
    assert confirmed.json()["state"] == "CONFIRMED"


async def test_processing_payment_is_not_cancellable(client, auth, initiate, container):
    """Money may be moving: cancel is a 409."""
    status = await _processing_payment(client, auth, initiate, container)
    response = await client.post(f"/api/v1/payments/{status['id']}/cancel", headers=auth())
    assert_problem(response, 409, "payment_not_cancellable")


async def _confirmed_payment(client, auth, initiate, container) -> str:
    status = await _processing_payment(client, auth, initiate, container)
    reference = status["attempts"][0]["reference"]
    await client.put(f"/api/v1/callbacks/mtn/{reference}", json={"status": "SUCCESSFUL"})
    await run_ready_tasks(container)
    return status["id"]


async def test_partial_refund_is_accepted_and_replay_safe(client, auth, initiate, container):
    """A refund of a CONFIRMED payment is 202; the same key again creates no second refund."""
    payment_id = await _confirmed_payment(client, auth, initiate, container)
    url = f"/api/v1/payments/{payment_id}/refund"
    first = await client.post(url, json={"amount": "5.00"}, headers=auth(key="r-1"))
    assert first.status_code == 202, first.text
    again = await client.post(url, json={"amount": "5.00"}, headers=auth(key="r-1"))
    assert again.status_code == 202
    refunds = [a for a in again.json()["attempts"] if a["kind"] == "refund"]
    assert len(refunds) == 1
    assert refunds[0]["amount"] == "5.00"
    reused = await client.post(url, json={"amount": "6.00"}, headers=auth(key="r-1"))
    assert_problem(reused, 422, "idempotency_key_reused")


async def test_refund_beyond_the_amount_is_409(client, auth, initiate, container):
    """More than was paid cannot be refunded."""
    payment_id = await _confirmed_payment(client, auth, initiate, container)
    response = await client.post(
        f"/api/v1/payments/{payment_id}/refund",
        json={"amount": "99.00"},
        headers=auth(key="r-2"),
    )
    assert_problem(response, 409, "payment_not_refundable")
