"""Webhook endpoints at the API: register (secret once), list, get, rotate, delete, per merchant."""

from __future__ import annotations

from api_helpers import OTHER_MERCHANT, assert_problem

BASE = "/api/v1/webhook-endpoints"
GOOD = {"url": "https://hooks.merchant.example/synccash", "event_types": ["payment.confirmed"]}


async def test_an_endpoint_is_created_with_its_secret_shown_once(client, auth):
    """201 with a whsec_ secret; list and get never show it again."""
    created = await client.post(BASE, json=GOOD, headers=auth())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["event_types"]) == (GOOD["url"], ["payment.confirmed"])
    listed = (await client.get(BASE, headers=auth())).json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert listed[0]["secret"] is None
    got = await client.get(f"{BASE}/{body['id']}", headers=auth())
    assert got.json()["secret"] is None
    assert body["secret"] not in got.text


async def test_another_merchant_neither_sees_nor_deletes_it(client, auth):
    """Endpoints are per merchant: 404 for anyone else, and their list is empty."""
    endpoint_id = (await client.post(BASE, json=GOOD, headers=auth())).json()["id"]
    other = auth(OTHER_MERCHANT)
    assert_problem(
        await client.get(f"{BASE}/{endpoint_id}", headers=other), 404, "webhook_endpoint_not_found"
    )
    assert_problem(
        await client.delete(f"{BASE}/{endpoint_id}", headers=other),
        404,
        "webhook_endpoint_not_found",
    )
    assert (await client.get(BASE, headers=other)).json()["items"] == []
    assert (await client.get(f"{BASE}/{endpoint_id}", headers=auth())).status_code == 200


async def test_bad_registrations_are_refused_with_stable_codes(client, auth):
    """Internal URL 422, unknown event 422, duplicate URL 409, unknown field 4xx."""
    internal = {**GOOD, "url": "https://169.254.169.254/latest/meta-data/"}
    assert_problem(
        await client.post(BASE, json=internal, headers=auth()), 422, "webhook_url_not_allowed"
    )
    unknown = {**GOOD, "event_types": ["attempt.submitted"]}
    assert_problem(
        await client.post(BASE, json=unknown, headers=auth()), 422, "invalid_event_types"
    )
    assert_problem(
        await client.post(BASE, json={**GOOD, "event_types": []}, headers=auth()),
        422,
        "invalid_event_types",
    )
    assert (await client.post(BASE, json=GOOD, headers=auth())).status_code == 201
    assert_problem(
        await client.post(BASE, json=GOOD, headers=auth()), 409, "webhook_endpoint_exists"
    )
    extra = await client.post(BASE, json={**GOOD, "secret": "mine"}, headers=auth())
    assert extra.status_code in (400, 422)


async def test_rotation_returns_a_new_secret_and_the_overlap_end(client, auth, container):
    """rotate-secret: a different secret, the previous one valid until now + overlap."""
    created = (await client.post(BASE, json=GOOD, headers=auth())).json()
    rotated = await client.post(
        f"{BASE}/{created['id']}/rotate-secret", json={"overlap_seconds": 3600}, headers=auth()
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"] is not None
    endpoint = await container.webhook_endpoints.get("merchant-a", created["id"])
    assert endpoint.signing_secrets(container.clock.now()) == (body["secret"], created["secret"])
    too_long = await client.post(
        f"{BASE}/{created['id']}/rotate-secret", json={"overlap_seconds": 10**7}, headers=auth()
    )
    assert too_long.status_code in (400, 422)


async def test_delete_removes_it(client, auth):
    """204, then 404."""
    endpoint_id = (await client.post(BASE, json=GOOD, headers=auth())).json()["id"]
    assert (await client.delete(f"{BASE}/{endpoint_id}", headers=auth())).status_code == 204
    assert_problem(
        await client.get(f"{BASE}/{endpoint_id}", headers=auth()), 404, "webhook_endpoint_not_found"
    )


async def test_managing_endpoints_needs_the_write_scope(client, auth):
    """A read-only token lists but cannot register (403 insufficient_scope)."""
    reader = auth(scopes=["payments:read"])
    assert_problem(await client.post(BASE, json=GOOD, headers=reader), 403, "insufficient_scope")
    assert (await client.get(BASE, headers=reader)).status_code == 200
