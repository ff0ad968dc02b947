"""Telecel (Hubtel-shaped) sandbox: its tariff, who bears the charge, 4070 and accounts."""

from __future__ import annotations

import pytest
from sandbox_telecel_wire import POS, PREPAID, receive, send, status

pytestmark = pytest.mark.integration

PAYER = "233201234567"


@pytest.fixture
def tc(combined):
    """(Telecel sandbox, Telecel base URL)."""
    app, url = combined
    return app["telecel"], f"{url}/telecel"


def conserved(sandbox, world) -> int:
    """Wallets + the merchant's float + the provider's charge income."""
    wallets = sum(w.balance_minor for w in world.wallets)
    return wallets + sandbox.config.merchant_balance_minor + sandbox.charges_minor


async def test_merchant_borne_charge_on_receive_money(http, tc, world):
    """1 % by default: Charges 0.10 on 10.00, the merchant gets 9.90, the payer pays 10.00."""
    sandbox, base = tc
    world.register(PAYER, "telecel", balance_minor=5_000)
    before, float_before = conserved(sandbox, world), sandbox.config.merchant_balance_minor
    reference, response = await receive(http, base, PAYER, amount=10)
    data = response.json()["Data"]
    assert (data["Charges"], data["AmountAfterCharges"], data["AmountCharged"]) == (0.1, 9.9, 10)
    checked = (await status(http, base, reference)).json()["data"]
    assert (
        checked["status"],
        checked["charges"],
        checked["amountAfterCharges"],
    ) == ("Paid", 0.1, 9.9)
    assert world.lookup(PAYER).balance_minor == 4_000
    assert sandbox.config.merchant_balance_minor - float_before == 990
    assert (10, before) == (sandbox.charges_minor, conserved(sandbox, world))


async def test_customer_borne_charge_as_in_hubtels_receive_sample(http, tc, world):
    """With the customer bearing it, AmountCharged = Amount + Charges and the merchant gets it all."""
    sandbox, base = tc
    sandbox.config.options["tariff"] = {"collection_bps": 625, "bearer": "customer"}
    world.register(PAYER, "telecel", balance_minor=5_000)
    float_before = sandbox.config.merchant_balance_minor
    reference, response = await receive(http, base, PAYER, amount=0.8)
    data = response.json()["Data"]
    assert (data["Charges"], data["AmountAfterCharges"], data["AmountCharged"]) == (0.05, 0.8, 0.85)
    await status(http, base, reference)
    assert world.lookup(PAYER).balance_minor == 5_000 - 85
    assert sandbox.config.merchant_balance_minor - float_before == 80


async def test_send_money_debits_amount_and_charge_from_the_prepaid_float(http, tc, world):
    """Send money: AmountDebited = Amount + Charges, taken from the float; the recipient gets Amount."""
    sandbox, base = tc
    world.register(PAYER, "telecel", balance_minor=0)
    before, float_before = conserved(sandbox, world), sandbox.config.merchant_balance_minor
    _, response = await send(http, base, PAYER, amount=3)
    data = response.json()["Data"]
    assert (
        response.json()["ResponseCode"],
        data["Charges"],
        data["AmountDebited"],
    ) == ("0001", 0.03, 3.03)
    assert world.lookup(PAYER).balance_minor == 300
    assert float_before - sandbox.config.merchant_balance_minor == 303
    assert before == conserved(sandbox, world)


async def test_float_must_cover_the_charge_too(http, tc):
    """A payout the float covers but not with its charge is 4075."""
    sandbox, base = tc
    sandbox.config.merchant_balance_minor = 300
    _, response = await send(http, base, PAYER, amount=3)
    assert response.json()["ResponseCode"] == "4075"


async def test_amount_below_the_tariff_minimum_is_4070(http, tc):
    """An amount with no fee set (below GHS 0.10 by default) answers 4070, nothing recorded."""
    sandbox, base = tc
    reference, response = await receive(http, base, PAYER, amount=0.05)
    assert (response.status_code, response.json()["ResponseCode"]) == (200, "4070")
    assert sandbox.attempt(reference) is None


async def test_send_money_on_the_pos_sales_id_is_4101(http, tc):
    """Hubtel's send money needs the Prepaid Deposit account: the POS Sales id is refused."""
    _, base = tc
    assert POS != PREPAID
    _, response = await send(http, base, PAYER, account=POS)
    assert (response.status_code, response.json()["ResponseCode"]) == (403, "4101")
