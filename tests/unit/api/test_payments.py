"""Payment endpoints: resource shape, status, audit trail, list, cancel, refund."""

from __future__ import annotations

from datetime import timedelta

from api_helpers import MERCHANT, assert_problem, initiate_body

RESOURCE_FIELDS = {
    "id",
    "state",
    "amount",
    "currency",
    "provider",
    "failure_code",
    "failure_reason",
    "created_at",
    "updated_at",
    "fee",
    "fee_quote",
    "attempts",
    "links",
    "payer",
    "payee",
}


async def test_initiate_returns_202_with_the_payment_resource(initiate):
    """A new payment is stored INITIATED, unrouted, with decimal-string amounts and links."""
    response = await initiate()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body.keys() >= RESOURCE_FIELDS
    assert body["state"] == "INITIATED"
    assert body["amount"] == "12.50"
    assert body["currency"] == "GHS"
    assert body["provider"] is None
    assert body["failure_code"] is None
    assert body["payer"]["msisdn"] == "233241234567"
    assert body["payee"] == {"msisdn": "233551234567", "merchant_account": None}
    assert body["reference"] == "order-123"
    assert body["metadata"] == {"cart": 7}
    assert body["links"]["self"] == f"/api/v1/payments/{body['id']}"
    assert "Idempotent-Replayed" not in response.headers


async def test_initiate_with_wallets_and_merchant_account(initiate):
    """Wallets with balances and a merchant-account payee are accepted and echoed."""
    body = initiate_body(
        payer={
            "msisdn": "0241234567",
            "wallets": [
                {"provider": "mtn", "msisdn": "0241234567", "balance": "500.00"},
                {"provider": "telecel", "msisdn": "0201234567"},
            ],
        },
        payee={"merchant_account": MERCHANT},  # a merchant collects into itself (or sub-accounts)
        webhook_url="https://merchant.example/hooks",
    )
    response = await initiate(body)
    assert response.status_code == 202, response.text
    payment = response.json()
    assert [w["provider"] for w in payment["payer"]["wallets"]] == ["mtn", "telecel"]
    assert payment["payer"]["wallets"][0]["balance"] == "500.00"
    assert payment["payee"]["merchant_account"] == MERCHANT
    assert payment["webhook_url"] == "https://merchant.example/hooks"


async def test_status_carries_the_status_fields(client, auth, initiate):
    """GET /status: state, provider, attempts summary, failure fields, timestamps."""
    payment_id = (await initiate()).json()["id"]
    response = await client.get(f"/api/v1/payments/{payment_id}/status", headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert {
        "id",
        "state",
        "amount",
        "currency",
        "provider",
        "failure_code",
        "failure_reason",
        "attempts",
        "created_at",
        "updated_at",
    } <= body.keys()
    assert body["id"] == payment_id
    assert body["state"] == "INITIATED"


async def test_get_payment_includes_the_audit_trail(client, auth, initiate):
    """GET /payments/{id} returns the events, first of all payment.initiated."""
    payment_id = (await initiate()).json()["id"]
    response = await client.get(f"/api/v1/payments/{payment_id}", headers=auth())
    assert response.status_code == 200
    events = response.json()["events"]
    assert events[0]["type"] == "payment.initiated"
    assert events[0]["seq"] == 1


async def test_unknown_payment_is_404(client, auth):
    """An id nobody created is a payment_not_found problem."""
    response = await client.get("/api/v1/payments/does-not-exist", headers=auth())
    assert_problem(response, 404, "payment_not_found")


async def test_list_filters_and_paginates(client, auth, initiate):
    """Newest first, a cursor to the next page, filters by reference and state."""
    ids = []
    for n in range(3):
        body = initiate_body(reference=f"order-{n}")
        ids.append((await initiate(body, key=f"key-{n}")).json()["id"])
    first = await client.get("/api/v1/payments?limit=2", headers=auth())
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None
    assert "cursor=" in page["links"]["next"]
    second = await client.get(page["links"]["next"], headers=auth())
    seen = [p["id"] for p in page["items"]] + [p["id"] for p in second.json()["items"]]
    assert sorted(seen) == sorted(ids)
    by_ref = await client.get("/api/v1/payments?reference=order-1", headers=auth())
    assert [p["id"] for p in by_ref.json()["items"]] == [ids[1]]
    confirmed = await client.get("/api/v1/payments?state=confirmed", headers=auth())
    assert confirmed.json()["items"] == []


async def test_list_rejects_an_unknown_state_and_provider(client, auth):
    """Bad filters are problems, not 500s."""
    assert_problem(
        await client.get("/api/v1/payments?state=bogus", headers=auth()), 422, "invalid_state"
    )
    assert_problem(
        await client.get("/api/v1/payments?provider=vodaphone-x", headers=auth()),
        422,
        "unknown_provider",
    )
    assert_problem(
        await client.get("/api/v1/payments?limit=0", headers=auth()), 400, "invalid_parameter"
    )
    for bad in ("created_to=0.5", "created_from=yesterday"):
        assert_problem(
            await client.get(f"/api/v1/payments?{bad}", headers=auth()), 400, "invalid_parameter"
        )


async def test_list_filters_by_creation_time(client, auth, initiate, container):
    """created_from/created_to take ISO 8601 instants (naive ones are UTC)."""
    await initiate()
    now = container.clock.now()
    later = (now.replace(tzinfo=None) + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    inside = await client.get(
        "/api/v1/payments", params={"created_from": earlier, "created_to": later}, headers=auth()
    )
    after = await client.get("/api/v1/payments", params={"created_from": later}, headers=auth())
    assert len(inside.json()["items"]) == 1
    assert after.json()["items"] == []


async def test_cancel_then_cancel_again_is_409(client, auth, initiate):
    """An INITIATED payment cancels; a CANCELLED one is not cancellable."""
    payment_id = (await initiate()).json()["id"]
    url = f"/api/v1/payments/{payment_id}/cancel"
    first = await client.post(url, headers=auth())
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "CANCELLED"
    assert_problem(await client.post(url, headers=auth()), 409, "payment_not_cancellable")


async def test_refund_of_unconfirmed_payment_is_409(client, auth, initiate):
    """Only CONFIRMED payments can be refunded."""
    payment_id = (await initiate()).json()["id"]
    response = await client.post(
        f"/api/v1/payments/{payment_id}/refund",
        json={"amount": "5.00"},
        headers=auth(key="refund-1"),
    )
    assert_problem(response, 409, "payment_not_refundable")


async def test_refund_needs_an_idempotency_key(client, auth, initiate):
    """Refund without Idempotency-Key is 400."""
    payment_id = (await initiate()).json()["id"]
    response = await client.post(f"/api/v1/payments/{payment_id}/refund", json={}, headers=auth())
    assert_problem(response, 400, "idempotency_key_missing")


async def test_daily_report(client, auth, initiate, container):
    """Today's report counts the merchant's payment."""
    await initiate()
    day = container.clock.now().date().isoformat()
    response = await client.get(f"/api/v1/reports/daily?date={day}", headers=auth())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["merchant_id"] == MERCHANT
    assert report["date"] == day
    assert report["total_count"] == 1
    assert report["total_amount"] == "12.50"
    assert report["by_state"]["INITIATED"]["count"] == 1


async def test_daily_report_rejects_a_bad_date(client, auth):
    """?date=yesterday is a 400 problem."""
    response = await client.get("/api/v1/reports/daily?date=yesterday", headers=auth())
    assert_problem(response, 400, "invalid_parameter")


async def test_routing_quote_stores_nothing(client, auth):
    """A quote explains the choice and creates no payment."""
    body = {
        "amount": "100.00",
        "payer": {"msisdn": "0241234567"},
        "payee": {"msisdn": "0551234567"},
    }
    response = await client.post("/api/v1/routing/quote", json=body, headers=auth())
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["amount"] == "100.00"
    assert quote["provider"] == "mtn"
    assert quote["decision"]["chosen"] == "mtn"
    assert quote["fee"] is not None
    listing = await client.get("/api/v1/payments", headers=auth())
    assert listing.json()["items"] == []
