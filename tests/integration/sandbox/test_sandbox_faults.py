"""Fault injection over real HTTP: 5xx, 429, timeout after accept, outage, seeded RNG."""

from __future__ import annotations

import httpx
import pytest
from sandbox_drivers import Driver
from sandbox_mtn_wire import auth, request_to_pay, rtp_status

pytestmark = pytest.mark.integration

PAYER = "233241234567"


async def test_error_rate_gives_5xx_before_anything(http, mtn_url, mtn_sandbox):
    """error_rate=1: MTN's 500 INTERNAL_PROCESSING_ERROR and nothing recorded."""
    headers = await auth(http, mtn_url)
    mtn_sandbox.set_faults(error_rate=1.0)
    reference, response = await request_to_pay(http, mtn_url, headers, PAYER)
    assert (response.status_code, response.json()["code"]) == (500, "INTERNAL_PROCESSING_ERROR")
    mtn_sandbox.set_faults(error_rate=0.0)
    assert (await rtp_status(http, mtn_url, headers, reference)).status_code == 404
    assert mtn_sandbox.transactions == ()


async def test_rate_limit_gives_429_with_retry_after(http, mtn_url, mtn_sandbox):
    """rate_limit_rate=1: 429 with Retry-After, nothing recorded."""
    headers = await auth(http, mtn_url)
    mtn_sandbox.set_faults(rate_limit_rate=1.0, retry_after_seconds=7)
    _, response = await request_to_pay(http, mtn_url, headers, PAYER)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert mtn_sandbox.ledger.debits() == ()


async def test_timeout_after_accept_still_debits(http, mtn_url, mtn_sandbox):
    """The client times out, yet the request was processed: the debit is in the ledger once."""
    headers = await auth(http, mtn_url)
    mtn_sandbox.set_faults(timeout_after_accept_rate=1.0, hold_seconds=30)
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.3)) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await request_to_pay(
                http=impatient, base=mtn_url, headers=headers, msisdn=PAYER, reference=None
            )
    mtn_sandbox.set_faults(timeout_after_accept_rate=0.0)
    [attempt] = mtn_sandbox.transactions
    status = (await rtp_status(http, mtn_url, headers, attempt.reference)).json()
    assert status["status"] == "SUCCESSFUL"
    assert len(mtn_sandbox.ledger.debits(PAYER)) == 1


async def test_outage_window(http, mtn_url, mtn_sandbox, clock):
    """During an outage every call gets 503; after outage_until it works again."""
    headers = await auth(http, mtn_url)
    mtn_sandbox.set_faults(outage=True, outage_until=clock() + 60)
    _, during = await request_to_pay(http, mtn_url, headers, PAYER)
    clock.advance(61)
    _, after = await request_to_pay(http, mtn_url, headers, PAYER)
    assert (during.status_code, during.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert after.status_code == 202


@pytest.mark.parametrize(
    ("provider", "key"),
    [("airteltigo", "ESB000001"), ("telecel", "5000")],
)
async def test_5xx_in_each_providers_shape(http, combined, provider, key):
    """AT answers a 5xx in its envelope, Telecel with ResponseCode 5000."""
    app, url = combined
    driver = Driver(provider, http, url)
    await driver.headers()
    app[provider].set_faults(error_rate=1.0)
    _, response = await driver.collect(
        "233261234567" if provider == "airteltigo" else "233201234567"
    )
    assert response.status_code == 500
    assert key in response.text
    assert app[provider].transactions == ()
