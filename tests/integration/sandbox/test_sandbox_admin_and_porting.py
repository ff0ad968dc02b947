"""The /_admin API over real HTTP, and number porting seen through each provider's lookups."""

from __future__ import annotations

import pytest
from sandbox_at_wire import at_headers
from sandbox_drivers import Driver
from sandbox_mtn_wire import auth
from sandbox_telecel_wire import POS, basic

pytestmark = pytest.mark.integration

PORTED = "233241234567"  # an MTN prefix


async def test_admin_faults_roundtrip(http, combined):
    """PUT /_admin/faults changes knobs that GET then shows; a bad knob is a 400."""
    app, url = combined
    put = await http.put(f"{url}/telecel/_admin/faults", json={"error_rate": 0.25, "seed": 3})
    got = await http.get(f"{url}/telecel/_admin/faults")
    bad = await http.put(f"{url}/telecel/_admin/faults", json={"nonsense": 1})
    assert put.status_code == 200
    assert (got.json()["error_rate"], got.json()["seed"]) == (0.25, 3)
    assert bad.status_code == 400
    assert app["telecel"].faults.error_rate == 0.25
    assert app["mtn"].faults.error_rate == 0.0


async def test_admin_wallets_ledger_and_reset(http, combined):
    """Register a wallet, pay from it, read the ledger, then reset everything."""
    _, url = combined
    put = await http.put(
        f"{url}/mtn/_admin/wallets",
        json={"msisdn": "0245550000", "name": "Kojo Addo", "balance_minor": 2_000},
    )
    assert put.json()["wallets"][0]["msisdn"] == "233245550000"
    driver = Driver("mtn", http, url)
    reference, _ = await driver.collect("233245550000", amount=5)
    ledger = (await http.get(f"{url}/mtn/_admin/ledger")).json()
    wallets = (await http.get(f"{url}/mtn/_admin/wallets")).json()["wallets"]
    assert [(e["kind"], e["reference"], e["amount_minor"]) for e in ledger["entries"]] == [
        ("debit", reference, 500)
    ]
    assert {"msisdn": "233245550000", "balance_minor": 1_500}.items() <= wallets[0].items()
    transactions = (await http.get(f"{url}/mtn/_admin/transactions")).json()["transactions"]
    assert transactions[0]["status"] == "success"
    await http.post(f"{url}/mtn/_admin/reset", params={"wallets": "true"})
    assert (await http.get(f"{url}/mtn/_admin/ledger")).json()["entries"] == []
    assert (await http.get(f"{url}/mtn/_admin/wallets")).json()["wallets"] == []


async def test_admin_token_expiry(http, combined):
    """POST /_admin/tokens/expire makes the next business call a 401."""
    _, url = combined
    headers = await auth(http, f"{url}/mtn")
    await http.post(f"{url}/mtn/_admin/tokens/expire")
    response = await http.get(f"{url}/mtn/collection/v1_0/account/balance", headers=headers)
    assert response.status_code == 401


async def test_admin_config(http, combined):
    """PUT /_admin/config changes the approval delay; unknown fields are refused; secrets hidden."""
    app, url = combined
    put = await http.put(
        f"{url}/airteltigo/_admin/config",
        json={"approval_delay": {"min_seconds": 1, "max_seconds": 3}},
    )
    bad = await http.put(f"{url}/airteltigo/_admin/config", json={"colour": "red"})
    assert put.json()["approval_delay"] == {"min_seconds": 1, "max_seconds": 3}
    assert "credentials" not in put.json()
    assert bad.status_code == 400
    assert app["airteltigo"].config.approval_delay.max_seconds == 3


async def test_ported_number_is_found_on_its_new_provider(http, combined, world):
    """An MTN-prefix number ported to Telecel: MTN says inactive, Telecel names it, payments follow."""
    app, url = combined
    world.register(PORTED, "telecel", name="Esi Quaye", balance_minor=10_000)
    mtn_headers = await auth(http, f"{url}/mtn")
    active = await http.get(
        f"{url}/mtn/collection/v1_0/accountholder/msisdn/{PORTED}/active", headers=mtn_headers
    )
    info = await http.get(
        f"{url}/mtn/collection/v1_0/accountholder/msisdn/{PORTED}/basicuserinfo",
        headers=mtn_headers,
    )
    verify = await http.get(
        f"{url}/telecel/merchantaccount/merchants/{POS}/mobilemoney/verify",
        params={"channel": "vodafone-gh", "customerMsisdn": PORTED},
        headers=basic(),
    )
    at_user = await http.get(
        f"{url}/airteltigo/standard/v1/users/{PORTED[3:]}",
        headers=await at_headers(http, f"{url}/airteltigo"),
    )
    assert active.json() == {"result": False}
    assert info.status_code == 404
    assert verify.json()["data"] == {"isRegistered": True, "name": "Esi Quaye", "status": "active"}
    assert at_user.json()["status"]["success"] is False

    mtn, telecel = Driver("mtn", http, url), Driver("telecel", http, url)
    mtn_ref, _ = await mtn.collect(PORTED, amount=1)
    telecel_ref, _ = await telecel.collect(PORTED, amount=1)
    assert await mtn.state(mtn_ref) == ("FAILED", "PAYER_NOT_FOUND")
    assert await telecel.state(telecel_ref) == ("Paid", "0000")
    assert world.lookup(PORTED).balance_minor == 9_900
    assert app["mtn"].ledger.debits() == ()


async def test_admin_outage_window(http, combined, clock):
    """PUT /_admin/faults {"outage_for_seconds": 30} opens a 503 window that closes by itself."""
    app, url = combined
    await http.put(f"{url}/airteltigo/_admin/faults", json={"outage_for_seconds": 30})
    during = await http.post(f"{url}/airteltigo/auth/oauth2/token", json={})
    clock.advance(31)
    after = await http.post(f"{url}/airteltigo/auth/oauth2/token", json={})
    assert during.status_code == 503
    assert after.status_code == 401
    app["airteltigo"].start_outage()
    assert (await http.post(f"{url}/airteltigo/auth/oauth2/token", json={})).status_code == 503
    app["airteltigo"].end_outage()
    assert (await http.post(f"{url}/airteltigo/auth/oauth2/token", json={})).status_code == 401


async def test_admin_custom_scenario(http, combined):
    """PUT /_admin/config scenarios turns an ordinary number into a rejecting one."""
    _, url = combined
    put = await http.put(
        f"{url}/mtn/_admin/config",
        json={"scenarios": {"0245551111": {"final": "failed", "reason": "APPROVAL_REJECTED"}}},
    )
    bad = await http.put(
        f"{url}/mtn/_admin/config", json={"scenarios": {"0245551111": {"final": "maybe"}}}
    )
    driver = Driver("mtn", http, url)
    reference, _ = await driver.collect("233245551111")
    assert put.json()["scenarios"]["233245551111"]["reason"] == "APPROVAL_REJECTED"
    assert bad.status_code == 400
    assert await driver.state(reference) == ("FAILED", "APPROVAL_REJECTED")
