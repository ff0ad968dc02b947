"""Balance, statement (JSON and CSV) and operator float endpoints over the in-memory books."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from api_helpers import MERCHANT, OTHER_MERCHANT, assert_problem

from synccash.core.ledger import (
    PostingKind,
    collection_wallet,
    entry,
    merchant_available,
    merchant_reserved,
)
from synccash.core.providers import ProviderId

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OPS = ("ops",)


async def _seed(container, merchant: str = MERCHANT) -> None:
    """A collection of 12.50 and a payout reservation of 2.00 for the merchant."""
    wallet = collection_wallet(ProviderId.MTN)
    available, reserved = merchant_available(merchant), merchant_reserved(merchant)
    await container.ledger.post(
        [
            entry("c1", PostingKind.COLLECT, [(wallet, 1250), (available, -1250)], currency="GHS"),
            entry(
                "p1", PostingKind.PAYOUT_HOLD, [(available, 200), (reserved, -200)], currency="GHS"
            ),
        ],
        T0,
    )


async def test_balance_shows_available_and_reserved(client, auth, container):
    """GET /balance: what may be paid out and what is held, as decimal strings."""
    await _seed(container)
    response = await client.get("/api/v1/balance", headers=auth())
    assert response.status_code == 200, response.text
    assert response.json() == {"currency": "GHS", "available": "10.50", "reserved": "2.00"}


async def test_a_merchant_sees_only_its_own_books(client, auth, container):
    """Another merchant's balance and statement are empty."""
    await _seed(container)
    balance = (await client.get("/api/v1/balance", headers=auth(OTHER_MERCHANT))).json()
    lines = (await client.get("/api/v1/ledger/entries", headers=auth(OTHER_MERCHANT))).json()
    assert (balance["available"], lines["items"]) == ("0.00", [])


async def test_statement_pages_the_merchants_postings(client, auth, container):
    """GET /ledger/entries: the merchant's postings, credits positive, in cursor pages."""
    await _seed(container)
    first = (await client.get("/api/v1/ledger/entries?limit=1", headers=auth())).json()
    second = (
        await client.get(
            f"/api/v1/ledger/entries?limit=1&cursor={first['next_cursor']}", headers=auth()
        )
    ).json()
    assert [(i["kind"], i["account"], i["amount"]) for i in first["items"]] == [
        ("collect", "available", "12.50")
    ]
    assert [(i["account"], i["amount"]) for i in second["items"]] == [
        ("available", "-2.00"),
        ("reserved", "2.00"),
    ]
    assert second["next_cursor"] is None


async def test_statement_as_csv(client, auth, container):
    """Accept: text/csv answers a CSV statement."""
    await _seed(container)
    response = await client.get("/api/v1/ledger/entries", headers={**auth(), "Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "position",
        "at",
        "kind",
        "reference",
        "payment_id",
        "account",
        "amount",
        "currency",
    ]
    assert [r[6] for r in rows[1:]] == ["12.50", "-2.00", "2.00"]


async def test_float_top_up_needs_the_operator_scope(client, auth):
    """A merchant token (all merchant scopes) may not top up a float."""
    response = await client.post(
        "/api/v1/ledger/floats/mtn/topups", json={"amount": "100.00"}, headers=auth(key="t1")
    )
    assert_problem(response, 403, "insufficient_scope")


async def test_float_top_up_posts_once_per_key(client, auth):
    """The same Idempotency-Key posts once; the float balance shows it."""
    for _ in range(2):
        response = await client.post(
            "/api/v1/ledger/floats/telecel/topups",
            json={"amount": "100.00"},
            headers=auth("ops", OPS, key="t1"),
        )
        assert response.status_code == 201, response.text
    floats = (await client.get("/api/v1/ledger/floats", headers=auth("ops", OPS))).json()
    assert {f["provider"]: f["balance"] for f in floats["items"]} == {
        "mtn": "0.00",
        "airteltigo": "0.00",
        "telecel": "100.00",
    }


async def test_a_bad_top_up_amount_is_422(client, auth):
    """Zero, negative or over-precise amounts move nothing."""
    for amount in ("0", "-5", "1.001"):
        response = await client.post(
            "/api/v1/ledger/floats/mtn/topups",
            json={"amount": amount},
            headers=auth("ops", OPS, key=f"k{amount}"),
        )
        assert response.status_code == 422, (amount, response.text)
