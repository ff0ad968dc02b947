"""API keys on the production set-up: created by the CLI in PostgreSQL, used against the API
process, revoked and the merchant disabled from the CLI (other processes notice within 10 s)."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from live_cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def wait_for_status(http: httpx.Client, credential: str, expected: int) -> int:
    """Poll GET /payments until it answers `expected` (at most 15 s); the last status."""
    deadline = time.monotonic() + 15
    while True:
        status = http.get("/api/v1/payments", headers={"Authorization": f"Bearer {credential}"})
        if status.status_code == expected or time.monotonic() > deadline:
            return status.status_code
        time.sleep(0.5)


def test_a_cli_key_works_until_revoked_and_a_disabled_merchant_is_refused(live):
    """Key from the CLI: 200; own account 202, another's 403; revoked 401; disabled 403."""
    merchant = f"e2e-keys-{uuid.uuid4().hex[:8]}"
    cli(live, "merchant", "create", merchant)
    key = cli(live, "apikey", "create", "--merchant", merchant).strip().splitlines()[-1]
    with httpx.Client(base_url=live.api_url, timeout=10) as http:
        assert wait_for_status(http, key, 200) == 200
        statuses = []
        for account in (merchant, "someone-else"):
            response = http.post(
                "/api/v1/payments/initiate",
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
                json={
                    "amount": "3.00",
                    "payer": {"msisdn": "0245550042"},
                    "payee": {"merchant_account": account},
                },
            )
            statuses.append(response.status_code)
        assert statuses == [202, 403]
        [record] = json.loads(cli(live, "apikey", "list", "--merchant", merchant, "--json"))
        assert record["last_used_at"] is not None
        cli(live, "apikey", "revoke", record["id"])
        assert wait_for_status(http, key, 401) == 401
        token = live.token(merchant)
        assert wait_for_status(http, token, 200) == 200
        cli(live, "merchant", "disable", merchant)
        assert wait_for_status(http, token, 403) == 403
