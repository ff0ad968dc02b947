"""Test numbers: the same Ghana range drives every outcome class on all three sandboxes."""

from __future__ import annotations

import pytest
from sandbox_drivers import Driver

from synccash.sandbox import (
    GHANA_TEST_SUFFIXES,
    MTN_OBSERVED_SCENARIOS,
    MTN_TEST_NUMBERS,
    ghana_test_number,
)

pytestmark = pytest.mark.integration

PROVIDERS = ("mtn", "airteltigo", "telecel")

#: suffix -> provider -> (final status word, detail) as each provider reports it.
EXPECTED = {
    "01": {
        "mtn": ("FAILED", "APPROVAL_REJECTED"),
        "airteltigo": ("TF", "DP00800001008"),
        "telecel": ("Unpaid", "2001"),
    },
    "02": {
        "mtn": ("FAILED", "EXPIRED"),
        "airteltigo": ("TE", "DP00800001029"),
        "telecel": ("Unpaid", "2001"),
    },
    "05": {
        "mtn": ("FAILED", "PAYER_NOT_FOUND"),
        "airteltigo": ("TF", "DP00800001025"),
        "telecel": ("Unpaid", "2201"),
    },
    "06": {
        "mtn": ("FAILED", "NOT_ALLOWED"),
        "airteltigo": ("TF", "DP00800001009"),
        "telecel": ("Unpaid", "2001"),
    },
    "07": {
        "mtn": ("FAILED", "INTERNAL_PROCESSING_ERROR"),
        "airteltigo": ("TA", "DP00800001000"),
        "telecel": ("Unpaid", "2001"),
    },
    "09": {
        "mtn": ("FAILED", "PAYER_LIMIT_REACHED"),
        "airteltigo": ("TF", "DP00800001003"),
        "telecel": ("Unpaid", "2001"),
    },
}
PENDING = {
    "mtn": ("PENDING", None),
    "airteltigo": ("TIP", "DP00800001006"),
    "telecel": ("Unpaid", "0001"),
}
SUCCESS = {
    "mtn": ("SUCCESSFUL", None),
    "airteltigo": ("TS", "DP00800001001"),
    "telecel": ("Paid", "0000"),
}


def test_table_is_exposed():
    """The Ghana suffixes 01-09 and MTN's 15 numbers are all in the exported table."""
    assert sorted(GHANA_TEST_SUFFIXES) == [f"0{n}" for n in range(1, 10)]
    assert len(MTN_TEST_NUMBERS) == 15


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("suffix", sorted(EXPECTED))
async def test_failing_numbers(http, combined, provider, suffix):
    """Each failing test number ends in the provider's own failure words, with no debit."""
    app, url = combined
    driver = Driver(provider, http, url)
    reference, response = await driver.collect(ghana_test_number(provider, suffix))
    assert response.status_code in (200, 202)
    assert await driver.state(reference) == EXPECTED[suffix][provider]
    assert app[provider].ledger.debits() == ()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_ongoing_then_success(http, combined, clock, provider):
    """03 stays pending for ongoing_seconds, then succeeds and debits once."""
    app, url = combined
    driver = Driver(provider, http, url)
    reference, _ = await driver.collect(ghana_test_number(provider, "03"))
    assert await driver.state(reference) == PENDING[provider]
    clock.advance(app[provider].config.ongoing_seconds + 1)
    assert await driver.state(reference) == SUCCESS[provider]
    assert len(app[provider].ledger.debits()) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_delayed_forever(http, combined, clock, provider):
    """04 never resolves (MTN reports the undocumented CREATED)."""
    app, url = combined
    driver = Driver(provider, http, url)
    reference, _ = await driver.collect(ghana_test_number(provider, "04"))
    clock.advance(86_400)
    driver.forget_token()
    expected = ("CREATED", None) if provider == "mtn" else PENDING[provider]
    assert await driver.state(reference) == expected
    assert app[provider].ledger.debits() == ()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unavailable_at_submit_records_nothing(http, combined, provider):
    """08 is refused with a 503 at submit; the status API then says never accepted."""
    app, url = combined
    driver = Driver(provider, http, url)
    reference, response = await driver.collect(ghana_test_number(provider, "08"))
    assert response.status_code == 503
    assert (await driver.state(reference))[0] == "404"
    assert app[provider].transactions == ()


async def test_telecel_internal_error_answers_0005(http, combined):
    """On Telecel, 07 answers the submit with 0005 (state unknown)."""
    _, url = combined
    _, response = await Driver("telecel", http, url).collect(ghana_test_number("telecel", "07"))
    assert response.json()["ResponseCode"] == "0005"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("46733123450", "INTERNAL_PROCESSING_ERROR"),
        ("46733123451", "APPROVAL_REJECTED"),
        ("46733123452", "EXPIRED"),
        ("46733123455", "PAYER_NOT_FOUND"),
        ("46733123456", "PAYEE_NOT_ALLOWED_TO_RECEIVE"),
        ("46733123458", "NOT_ALLOWED_TARGET_ENVIRONMENT"),
        ("46733123460", "INVALID_CURRENCY"),
        ("46733123463", "COULD_NOT_PERFORM_TRANSACTION"),
    ],
)
async def test_mtn_documented_numbers(http, combined, number, reason):
    """MTN's documented sandbox numbers fail with their documented reasons."""
    _, url = combined
    driver = Driver("mtn", http, url)
    reference, _ = await driver.collect(number)
    assert await driver.state(reference) == ("FAILED", reason)


async def test_mtn_other_number_succeeds(http, combined):
    """Any other number, e.g. 56733123453, succeeds."""
    _, url = combined
    driver = Driver("mtn", http, url)
    reference, _ = await driver.collect("56733123453")
    assert await driver.state(reference) == SUCCESS["mtn"]


async def test_mtn_observed_profile(http, combined, clock):
    """With MTN_OBSERVED_SCENARIOS, 46733123453 stays PENDING and then ends FAILED/EXPIRED."""
    app, url = combined
    app["mtn"].config.scenarios.update(MTN_OBSERVED_SCENARIOS)
    driver = Driver("mtn", http, url)
    reference, _ = await driver.collect("46733123453")
    assert await driver.state(reference) == ("PENDING", None)
    clock.advance(app["mtn"].config.ongoing_seconds + 1)
    assert await driver.state(reference) == ("FAILED", "EXPIRED")
