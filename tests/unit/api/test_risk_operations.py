"""Fraud operations (issue 16.8): risk reasons, the review queue, the blocklist, the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import ALL, assert_problem, initiate_body, make_settings, run_ready_tasks
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.api import create_app, mint_token
from synccash.core.outcomes import ProviderOutcome

RISK = ("risk:review",)
PAYER = "0241234567"


@pytest.fixture
async def risk_client() -> AsyncIterator[tuple[AsyncTestClient[Any], Container, Any]]:
    """An app whose payer never approves (payments stay at the provider) and header makers."""
    settings = make_settings()
    gateway = FakeProviderGateway()
    gateway.script(PAYER, Script(status=(ProviderOutcome.pending("PENDING"),)))
    container = wire(settings, gateway=gateway)

    def headers(merchant: str = "shop", scopes: tuple[str, ...] = ALL) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(settings, merchant, scopes)}"}

    async with AsyncTestClient(app=create_app(container)) as client:
        yield client, container, headers


async def _flagged_payment(client, container, headers, *, run: bool = True) -> str:
    """A payment the fraud rules flag for review: GHS 1,500 to a payee never paid before."""
    body = initiate_body(amount="1500.00", payer={"msisdn": PAYER}, payee={"msisdn": "0209999999"})
    created = await client.post(
        "/api/v1/payments/initiate", json=body, headers={**headers(), "Idempotency-Key": "big"}
    )
    if run:
        await run_ready_tasks(container)
    return str(created.json()["id"])


async def test_risk_reasons_are_in_the_payment_resource(risk_client):
    """After validation the resource carries score, decision and every reason (code, message)."""
    client, container, headers = risk_client
    payment_id = await _flagged_payment(client, container, headers)
    body = (await client.get(f"/api/v1/payments/{payment_id}", headers=headers())).json()
    assert (body["flagged_for_review"], body["risk"]) == (
        True,
        {
            "score": 40,
            "decision": "review",
            "reasons": [
                {
                    "code": "new_payee_high_value",
                    "message": "first payment to this payee and above GHS 1000.00",
                    "score": 40,
                }
            ],
        },
    )


async def test_review_endpoints_need_the_risk_review_scope(risk_client):
    """A merchant token (every merchant scope) is 403 on the risk team's endpoints."""
    client, _, headers = risk_client
    for method, path in [
        ("GET", "/api/v1/reviews"),
        ("GET", "/api/v1/blocklist"),
        ("GET", "/api/v1/risk/audit"),
        ("POST", "/api/v1/reviews/x/approve"),
        ("DELETE", "/api/v1/blocklist/0241234567"),
    ]:
        response = await client.request(method, path, headers=headers())
        assert_problem(response, 403, "insufficient_scope")


async def test_flagged_payment_is_queued_then_approved_once(risk_client):
    """The queue lists it; approve records who and when; a second decision is 409; audited."""
    client, container, headers = risk_client
    payment_id = await _flagged_payment(client, container, headers)
    reviewer = headers("risk-team", RISK)
    queue = (await client.get("/api/v1/reviews", headers=reviewer)).json()["items"]
    assert [payment_id] == [item["payment"]["id"] for item in queue]
    approved = await client.post(
        f"/api/v1/reviews/{payment_id}/approve", json={"note": "called the payer"}, headers=reviewer
    )
    assert (
        approved.status_code,
        approved.json()["decision"],
        approved.json()["decided_by"],
        approved.json()["cancelled"],
    ) == (200, "approved", "risk-team", False)
    again = await client.post(f"/api/v1/reviews/{payment_id}/decline", headers=reviewer)
    assert_problem(again, 409, "review_already_decided")
    assert (await client.get("/api/v1/reviews", headers=reviewer)).json()["items"] == []
    audit = (await client.get("/api/v1/risk/audit", headers=reviewer)).json()["items"]
    assert [("review.approved", payment_id, "risk-team", "called the payer")] == [
        (e["action"], e["subject"], e["actor"], e["detail"]["note"]) for e in audit
    ]


async def test_declining_after_the_provider_has_it_is_recorded_not_cancelled(risk_client):
    """The payment is at the provider (PROCESSING): the decline is recorded, nothing cancelled."""
    client, container, headers = risk_client
    payment_id = await _flagged_payment(client, container, headers)
    declined = await client.post(
        f"/api/v1/reviews/{payment_id}/decline", headers=headers("risk-team", RISK)
    )
    assert (
        declined.status_code,
        declined.json()["decision"],
        declined.json()["cancelled"],
        declined.json()["payment_state"],
    ) == (200, "declined", False, "PROCESSING")


async def test_declining_before_a_provider_has_it_cancels(risk_client):
    """A flagged payment not yet at a provider is cancelled by the decline."""
    client, container, headers = risk_client
    payment_id = await _flagged_payment(client, container, headers, run=False)
    async with container.uow() as uow:  # INITIATED still: flag it as validation would
        payment = await uow.payments.get(payment_id)
        assert payment is not None
        payment.flagged_for_review = True
        await uow.payments.save(payment)
        await uow.commit()
    declined = await client.post(
        f"/api/v1/reviews/{payment_id}/decline", headers=headers("risk-team", RISK)
    )
    assert (
        declined.status_code,
        declined.json()["decision"],
        declined.json()["cancelled"],
        declined.json()["payment_state"],
    ) == (200, "declined", True, "CANCELLED")


async def test_unknown_or_unflagged_payment_is_404(risk_client):
    """Only flagged payments can be reviewed."""
    client, _, headers = risk_client
    created = await client.post(
        "/api/v1/payments/initiate",
        json=initiate_body(),
        headers={**headers(), "Idempotency-Key": uuid.uuid4().hex},
    )
    for payment_id in (created.json()["id"], "nope"):
        response = await client.post(
            f"/api/v1/reviews/{payment_id}/approve", headers=headers("risk-team", RISK)
        )
        assert_problem(response, 404, "review_not_found")


async def test_blocklist_add_list_remove_is_audited_and_enforced(risk_client):
    """PUT normalises the MSISDN; the rule then blocks the payer; DELETE unblocks; all audited."""
    client, container, headers = risk_client
    reviewer = headers("risk-team", RISK)
    added = await client.put(
        "/api/v1/blocklist/+233%2024%20123%204567", json={"reason": "mule"}, headers=reviewer
    )
    again = await client.put("/api/v1/blocklist/0241234567", json={"reason": "x"}, headers=reviewer)
    assert (
        added.status_code,
        added.json(),
        again.status_code,
    ) == (201, {"entry": "233241234567", "reason": "mule"}, 200)
    listed = (await client.get("/api/v1/blocklist", headers=reviewer)).json()["items"]
    assert listed == [{"entry": "233241234567", "reason": "mule"}]
    created = await client.post(
        "/api/v1/payments/initiate",
        json=initiate_body(payer={"msisdn": PAYER}),
        headers={**headers(), "Idempotency-Key": "blocked"},
    )
    await run_ready_tasks(container)
    status = await client.get(f"/api/v1/payments/{created.json()['id']}", headers=headers())
    assert (status.json()["state"], status.json()["failure_code"]) == ("FAILED", "risk_blocked")
    removed = await client.delete("/api/v1/blocklist/0241234567", headers=reviewer)
    missing = await client.delete("/api/v1/blocklist/0241234567", headers=reviewer)
    assert (removed.status_code, missing.status_code) == (204, 404)
    audit = (await client.get("/api/v1/risk/audit", headers=reviewer)).json()["items"]
    assert [(e["action"], e["subject"]) for e in audit] == [
        ("blocklist.remove", "233241234567"),
        ("blocklist.add", "233241234567"),
    ]


@pytest.mark.parametrize("entry", ["acct:", "not-a-number"])
async def test_bad_blocklist_entries_are_422(risk_client, entry):
    """An empty payee key or a non-MSISDN is refused with a stable code."""
    client, _, headers = risk_client
    response = await client.put(
        f"/api/v1/blocklist/{entry}", json={"reason": "x"}, headers=headers("risk-team", RISK)
    )
    assert response.status_code == 422
    assert response.json()["code"] in {"invalid_blocklist_entry", "invalid_msisdn"}
