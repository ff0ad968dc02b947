"""Sandboxes closer to life: took effect then 5xx, long-tail approval, MTN's duplicate
callbacks by default, and a production profile that refuses deployment mistakes."""

from __future__ import annotations

import random
import statistics

import pytest
from sandbox_mtn_wire import auth, request_to_pay
from sandbox_telecel_wire import receive

from synccash.sandbox import ApprovalDelay, mtn
from synccash.sandbox._sandbox import REALISTIC_APPROVAL

pytestmark = pytest.mark.integration

PAYER = "233241234567"


async def test_took_effect_then_5xx(http, mtn_url, mtn_sandbox):
    """The request is recorded (and settles) although the client is answered 500."""
    headers = await auth(http, mtn_url)
    mtn_sandbox.set_faults(error_after_effect_rate=1.0)
    reference, response = await request_to_pay(http, mtn_url, headers, PAYER)
    assert response.status_code == 500
    mtn_sandbox.set_faults(error_after_effect_rate=0.0)
    attempt = mtn_sandbox.attempt(reference)
    assert attempt is not None
    assert (attempt.status, len(mtn_sandbox.ledger.for_reference(reference))) == ("success", 1)


def test_long_tail_approval_is_minutes_with_a_tail_and_clipped():
    """REALISTIC_APPROVAL: median ~45 s, a tail past 2 minutes, never beyond 10 minutes."""
    rng = random.Random(7)
    draws = sorted(REALISTIC_APPROVAL.draw(rng) for _ in range(2000))
    assert 35 < statistics.median(draws) < 55
    assert draws[int(0.9 * len(draws))] > 120
    assert (min(draws) >= 3.0, max(draws) <= 600.0) == (True, True)
    assert ApprovalDelay(1, 2).draw(rng) <= 2  # the uniform form is unchanged


async def test_mtn_sends_each_callback_twice_by_default(http, mtn_url, mtn_sandbox, receiver):
    """MTN's observed duplicate is on by default (180 s later); here 0.2 s to observe it."""
    assert mtn.default_config().duplicate_callback_after_seconds == 180.0
    mtn_sandbox.config.duplicate_callback_after_seconds = 0.2
    recorder, url = receiver
    headers = await auth(http, mtn_url)
    await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/1")
    first, second = await recorder.wait_for(2)
    assert first["json"] == second["json"]


async def test_production_profile_refuses_unlisted_sources(http, mtn_url, mtn_sandbox):
    """Under the production profile a caller not on the allow-list gets 403, nothing done."""
    mtn_sandbox.config.profile = "production"
    response = await http.post(f"{mtn_url}/collection/token/", headers={"Content-Length": "0"})
    assert response.status_code == 403
    assert mtn_sandbox.transactions == ()


async def test_production_profile_refuses_plain_http_callbacks(http, mtn_url, mtn_sandbox):
    """An allow-listed caller with an http X-Callback-Url gets INVALID_CALLBACK_URL_HOST."""
    mtn_sandbox.config.profile = "production"
    mtn_sandbox.config.allowed_sources = ("127.0.0.1",)
    headers = await auth(http, mtn_url)
    _, response = await request_to_pay(http, mtn_url, headers, PAYER, callback="http://x.test/cb")
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_CALLBACK_URL_HOST")
    _, accepted = await request_to_pay(http, mtn_url, headers, PAYER, callback="https://x.test/cb")
    assert accepted.status_code == 202


async def test_production_profile_on_telecel_wants_an_https_callback(http, combined):
    """Hubtel-shaped: a plain http PrimaryCallbackUrl is a 4000 validation error."""
    app, url = combined
    app["telecel"].config.profile = "production"
    app["telecel"].config.allowed_sources = ("127.0.0.1",)
    _, response = await receive(http, f"{url}/telecel", "233201234567", callback="http://x.test/cb")
    assert (response.status_code, response.json()["ResponseCode"]) == (400, "4000")
