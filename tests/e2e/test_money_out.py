"""Payouts and two-leg transfers on the live stack: sandboxes, API and worker over real HTTP.

The sandbox ledgers are the providers' truth: a credit to the payee's wallet, a debit of the
payer, a refund after a failed payout leg.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest

from synccash.api.auth import Scope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MERCHANT = "e2e-money-out"
_numbers = count(1)


def _fresh(prefix: str) -> str:
    """A number no other test uses (never a sandbox test number: those end 00000NN)."""
    return f"0{prefix}{7_100_000 + next(_numbers)}"


@pytest.fixture(scope="module")
def http(live) -> Iterator[httpx.Client]:
    """A client on the live API."""
    with httpx.Client(base_url=live.api_url, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def headers(live) -> dict[str, str]:
    """The merchant's bearer token."""
    return {"Authorization": f"Bearer {live.token(MERCHANT)}"}


@pytest.fixture(scope="module")
def funded(live, http, headers) -> None:
    """GHS 1,000 of float on every network, and GHS 300 collected into the merchant's balance."""
    ops = {"Authorization": f"Bearer {live.token('e2e-ops', [Scope.OPS])}"}
    for provider in ("mtn", "airteltigo", "telecel"):
        response = http.post(
            f"/api/v1/ledger/floats/{provider}/topups",
            json={"amount": "1000.00"},
            headers={**ops, "Idempotency-Key": f"e2e-float-{provider}"},
        )
        assert response.status_code == 201, response.text
    collected = _post(
        http,
        headers,
        "/api/v1/payments/initiate",
        {
            "amount": "300.00",
            "payer": {"msisdn": _fresh("24")},
            "payee": {"merchant_account": MERCHANT},
        },
    )
    assert _wait(http, headers, "payments", collected["id"])["state"] == "CONFIRMED"


def _post(http: httpx.Client, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = http.post(path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 202, response.text
    return response.json()


def _wait(http, headers, resource: str, item_id: str, timeout: float = 90) -> dict[str, Any]:
    """The resource once it is final (CONFIRMED counts as final here)."""
    deadline = time.monotonic() + timeout
    while True:
        item: dict[str, Any] = http.get(f"/api/v1/{resource}/{item_id}", headers=headers).json()
        if item["state"] in {"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED"}:
            return item
        if time.monotonic() > deadline:
            pytest.fail(f"{item_id} stayed {item['state']}")
        time.sleep(0.5)


def _ledger(live, provider: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(
        f"{live.sandbox_url}/{provider}/_admin/ledger"
    ).json()["entries"]
    return entries


def _moves(live, provider: str, payment: dict[str, Any]) -> list[tuple[str, int]]:
    """(kind, amount) of the sandbox ledger entries of the payment's attempts, in order.

    References compare without dashes: Telecel's ClientReference is the UUID's 32 hex digits.
    """
    refs = {a["reference"].replace("-", "") for a in payment["attempts"]}
    return [
        (e["kind"], e["amount_minor"])
        for e in _ledger(live, provider)
        if e["reference"].replace("-", "") in refs
    ]


def test_a_payout_credits_the_wallet(live, http, headers, funded):
    """One DISBURSE leg, CONFIRMED, and exactly one credit at the payee's network."""
    payout = _post(
        http, headers, "/api/v1/payouts", {"amount": "25.00", "payee": {"msisdn": _fresh("55")}}
    )
    done = _wait(http, headers, "payouts", payout["id"])

    assert (
        done["kind"],
        done["state"],
        [a["kind"] for a in done["attempts"]],
    ) == ("payout", "CONFIRMED", ["disburse"])
    assert _moves(live, "mtn", done) == [("credit", 2500)]


def test_a_payout_to_a_wallet_that_does_not_exist_fails(live, http, headers, funded):
    """The network has no such wallet: FAILED payee_not_found, nothing credited."""
    payout = _post(
        http, headers, "/api/v1/payouts", {"amount": "5.00", "payee": {"msisdn": "0550000005"}}
    )
    done = _wait(http, headers, "payouts", payout["id"])

    assert (done["state"], done["failure_code"]) == ("FAILED", "payee_not_found")
    assert _moves(live, "mtn", done) == []


def test_an_unknown_payout_is_reconciled_by_status_queries(live, http, headers, funded):
    """The answer to the submit is lost (timeout after accept): polled to CONFIRMED, one credit."""
    faults = f"{live.sandbox_url}/telecel/_admin/faults"
    httpx.put(faults, json={"timeout_after_accept_rate": 1.0, "hold_seconds": 5.0})
    try:
        payout = _post(
            http, headers, "/api/v1/payouts", {"amount": "7.00", "payee": {"msisdn": _fresh("20")}}
        )
        deadline = time.monotonic() + 30
        while True:
            attempts = http.get(f"/api/v1/payouts/{payout['id']}", headers=headers).json()[
                "attempts"
            ]
            if attempts and attempts[0]["status"] == "unknown":
                break
            assert time.monotonic() < deadline, attempts
            time.sleep(0.3)
    finally:
        httpx.put(faults, json={"timeout_after_accept_rate": 0.0})
    done = _wait(http, headers, "payouts", payout["id"])

    assert (done["state"], len(done["attempts"])) == ("CONFIRMED", 1)
    assert _moves(live, "telecel", done) == [("credit", 700)]


def test_a_name_mismatch_is_refused_before_money_moves(live, http, headers, funded):
    """422 name_mismatch; no payout is stored."""
    payee = _fresh("55")
    response = http.post(
        "/api/v1/payouts",
        json={"amount": "5.00", "payee": {"msisdn": payee}, "expected_name": "Nobody Atall"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    listed = http.get("/api/v1/payouts", headers=headers).json()["items"]

    assert (response.status_code, response.json()["code"]) == (422, "name_mismatch")
    assert all(p["payee"]["msisdn"] != f"233{payee[1:]}" for p in listed)


def test_a_transfer_debits_the_payer_and_credits_the_payee(live, http, headers, funded):
    """COLLECT on MTN, then DISBURSE on Telecel from our float: CONFIRMED after the credit."""
    transfer = _post(
        http,
        headers,
        "/api/v1/payments/initiate",
        {"amount": "12.00", "payer": {"msisdn": _fresh("24")}, "payee": {"msisdn": _fresh("20")}},
    )
    done = _wait(http, headers, "payments", transfer["id"])

    assert (done["kind"], done["state"]) == ("transfer", "CONFIRMED")
    assert _moves(live, "mtn", done) == [("debit", 1200)]
    assert _moves(live, "telecel", done) == [("credit", 1200)]


def test_a_transfer_whose_payout_leg_fails_refunds_the_payer(live, http, headers, funded):
    """The payee's wallet does not exist: the payer is refunded; REFUNDED payout_failed."""
    transfer = _post(
        http,
        headers,
        "/api/v1/payments/initiate",
        {"amount": "9.00", "payer": {"msisdn": _fresh("24")}, "payee": {"msisdn": "0200000005"}},
    )
    done = _wait(http, headers, "payments", transfer["id"])

    assert (done["state"], done["failure_code"]) == ("REFUNDED", "payout_failed")
    assert [a["kind"] for a in done["attempts"]] == ["collect", "disburse", "refund"]
    assert _moves(live, "mtn", done) == [("debit", 900), ("refund", 900)]
    assert _moves(live, "telecel", done) == []
