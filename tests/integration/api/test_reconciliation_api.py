"""The reconciliation routes over PostgreSQL: runs, exceptions, resolution under `ops`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from synccash.api import create_app, mint_token
from synccash.core.statements import LineKind, LineStatus, StatementLine

pytestmark = pytest.mark.integration

AT = datetime(2025, 1, 15, 8, tzinfo=UTC)  # a day no other test makes attempts on


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def _headers(settings, scopes: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'ops-1', scopes)}"}


async def _seed(container) -> str:
    txn = f"T{uuid.uuid4().hex[:10]}"
    line = StatementLine(
        "telecel",
        2,
        txn,
        "neverSent",
        None,
        LineKind.COLLECTION,
        LineStatus.SUCCESS,
        700,
        7,
        "233201234567",
        AT,
    )
    store = container.reconciliation
    await store.import_lines("telecel", AT.date(), [line], AT)
    await store.run("telecel", AT.date(), AT)
    return f"line:{txn}"


async def test_runs_exceptions_and_resolve(container):
    """An unknown line is listed, resolved once with a note; a second resolve is 409."""
    key = await _seed(container)
    ops = _headers(container.settings, ["ops"])
    body = {"run_id": "telecel:2025-01-15", "key": key, "note": "customer refunded by hand"}
    async with _client(create_app(container)) as client:
        runs = await client.get(
            "/api/v1/reconciliation/runs", params={"provider": "telecel"}, headers=ops
        )
        listed = await client.get(
            "/api/v1/reconciliation/exceptions", params={"date": "2025-01-15"}, headers=ops
        )
        done = await client.post(
            "/api/v1/reconciliation/exceptions/resolve", json=body, headers=ops
        )
        again = await client.post(
            "/api/v1/reconciliation/exceptions/resolve", json=body, headers=ops
        )
        after = await client.get(
            "/api/v1/reconciliation/exceptions", params={"date": "2025-01-15"}, headers=ops
        )
    assert runs.status_code == 200, runs.text
    assert "telecel:2025-01-15" in [r["id"] for r in runs.json()["items"]]
    assert [("missing_at_us", key)] == [
        (i["match_class"], i["key"]) for i in listed.json()["items"] if i["key"] == key
    ]
    assert (done.status_code, done.json()["resolved_by"]) == (200, "ops-1")
    assert (again.status_code, again.json()["code"]) == (409, "exception_already_resolved")
    assert key not in [i["key"] for i in after.json()["items"]]


async def test_ops_scope_and_bad_input(container):
    """Without `ops` it is 403; a bad date, class or unknown item is a problem, never a 500."""
    merchant = _headers(container.settings, ["payments:read", "reports:read"])
    ops = _headers(container.settings, ["ops"])
    missing = {"run_id": "mtn:2020-01-01", "key": "line:nope", "note": "x"}
    async with _client(create_app(container)) as client:
        forbidden = await client.get("/api/v1/reconciliation/runs", headers=merchant)
        bad_date = await client.get(
            "/api/v1/reconciliation/runs", params={"date": "yesterday"}, headers=ops
        )
        bad_class = await client.get(
            "/api/v1/reconciliation/exceptions", params={"class": "odd"}, headers=ops
        )
        not_found = await client.post(
            "/api/v1/reconciliation/exceptions/resolve", json=missing, headers=ops
        )
    assert forbidden.status_code == 403
    assert (bad_date.status_code, bad_date.json()["code"]) == (400, "invalid_date")
    assert (bad_class.status_code, bad_class.json()["code"]) == (400, "invalid_class")
    assert not_found.status_code == 404


async def test_open_exceptions_are_a_metric(container):
    """/metrics shows the open exceptions per kind, read from the database at scrape time."""
    await _seed(container)
    async with _client(create_app(container)) as client:
        scraped = await client.get("/metrics")
    lines = [
        ln
        for ln in scraped.text.splitlines()
        if ln.startswith('synccash_reconciliation_open_exceptions{kind="missing_at_us"}')
    ]
    assert len(lines) == 1
    assert float(lines[0].rsplit(" ", 1)[1]) >= 1
