"""Telecel Cash sandbox (Hubtel receive/send money shape) over real HTTP, mounted at /telecel."""

from __future__ import annotations

import uuid

import pytest
from sandbox_telecel_wire import POS, PREPAID, basic, receive, status

pytestmark = pytest.mark.integration

PAYER = "233201234567"


@pytest.fixture
def tc(combined):
    """(Telecel sandbox, Telecel base URL)."""
    app, url = combined
    return app["telecel"], f"{url}/telecel"


async def test_wrong_credentials(http, tc):
    """Wrong Basic credentials give 401 with ASP.NET's message."""
    _, base = tc
    response = await http.post(
        f"{base}/merchantaccount/merchants/{POS}/receive/mobilemoney",
        auth=("synccash-telecel-client", "wrong"),
        json={},
    )
    assert response.status_code == 401
    assert "denied" in response.json()["Message"]


async def test_wrong_pos_id_is_4101(http, tc):
    """Another POS Sales id is refused with 4101."""
    _, base = tc
    response = await http.post(
        f"{base}/merchantaccount/merchants/999/receive/mobilemoney", headers=basic(), json={}
    )
    assert (response.status_code, response.json()["ResponseCode"]) == (403, "4101")


async def test_receive_pending_then_paid_with_one_debit(http, tc):
    """0001 on submit, status check Paid, one debit of the exact amount."""
    sandbox, base = tc
    reference, response = await receive(http, base, PAYER, amount=0.8)
    body = response.json()
    assert (response.status_code, body["ResponseCode"]) == (200, "0001")
    assert body["Data"]["ClientReference"] == reference
    assert body["Data"]["Amount"] == 0.8
    checked = (await status(http, base, reference)).json()
    assert (checked["responseCode"], checked["data"]["status"]) == ("0000", "Paid")
    [entry] = sandbox.ledger.for_reference(reference)
    assert (entry.kind, entry.amount_minor, entry.msisdn) == ("debit", 80, PAYER)


async def test_same_client_reference_replays(http, tc):
    """The same ClientReference and details answers 0001 again and debits once."""
    sandbox, base = tc
    reference, first = await receive(http, base, PAYER)
    _, second = await receive(http, base, PAYER, reference=reference)
    assert second.json()["Data"]["TransactionId"] == first.json()["Data"]["TransactionId"]
    assert len(sandbox.ledger.for_reference(reference)) == 1


async def test_client_reference_reused_for_other_details(http, tc):
    """The same ClientReference for another amount is a 4000 validation error."""
    _, base = tc
    reference, _ = await receive(http, base, PAYER, amount=1)
    _, again = await receive(http, base, PAYER, amount=2, reference=reference)
    assert (again.status_code, again.json()["ResponseCode"]) == (400, "4000")


async def test_unknown_reference_is_404(http, tc):
    """A status check for a reference never accepted is a 404."""
    _, base = tc
    response = await status(http, base, uuid.uuid4().hex)
    assert response.status_code == 404


async def test_amount_with_three_decimals_is_4000(http, tc):
    """Only 2 decimal places are allowed."""
    _, base = tc
    _, response = await receive(http, base, PAYER, amount=1.005)
    assert response.json()["ResponseCode"] == "4000"


async def test_insufficient_funds_is_2050_in_the_callback_unpaid_on_status(
    http, tc, world, receiver
):
    """Not enough money: the callback says 2050, the status check 0000 + Unpaid, no debit."""
    sandbox, base = tc
    recorder, url = receiver
    sandbox.config.options["status_semantics"] = "documented"
    world.register(PAYER, "telecel", balance_minor=99)
    reference, _ = await receive(http, base, PAYER, amount=1, callback=f"{url}/cb")
    [callback] = await recorder.wait_for(1)
    assert (callback["json"]["ResponseCode"], callback["json"]["Message"]) == ("2050", "failed")
    checked = (await status(http, base, reference)).json()
    assert (checked["responseCode"], checked["data"]["status"]) == ("0000", "Unpaid")
    assert sandbox.ledger.debits() == ()


async def test_coded_status_semantics_put_the_failure_code_in_the_check(http, tc, world):
    """With status_semantics=coded (not Hubtel's documented form) the check carries 2050."""
    sandbox, base = tc
    sandbox.config.options["status_semantics"] = "coded"
    world.register(PAYER, "telecel", balance_minor=99)
    reference, _ = await receive(http, base, PAYER, amount=1)
    checked = (await status(http, base, reference)).json()
    assert (checked["responseCode"], checked["data"]["status"]) == ("2050", "Unpaid")


async def test_bad_description_fails_2001(http, tc, receiver):
    """'&' in Description is accepted, then fails 2001 (invalid characters) in the callback."""
    _, base = tc
    recorder, url = receiver
    _, response = await receive(http, base, PAYER, description="Tea & cake", callback=f"{url}/cb")
    assert response.json()["ResponseCode"] == "0001"
    [callback] = await recorder.wait_for(1)
    assert callback["json"]["ResponseCode"] == "2001"
    assert "Invalid characters" in callback["json"]["Data"]["Description"]


async def test_callback_shape(http, tc, receiver):
    """The final callback is Hubtel's {ResponseCode, Message, Data{...}} POST."""
    _, base = tc
    recorder, url = receiver
    reference, _ = await receive(http, base, PAYER, callback=f"{url}/cb/telecel")
    [callback] = await recorder.wait_for(1)
    body = callback["json"]
    assert (callback["method"], body["ResponseCode"], body["Message"]) == (
        "POST",
        "0000",
        "success",
    )
    assert body["Data"]["ClientReference"] == reference
    assert set(body["Data"]) >= {
        "Amount",
        "Charges",
        "TransactionId",
        "ExternalTransactionId",
        "PaymentDate",
    }


async def test_send_money_credits_recipient(http, tc, world):
    """Send money credits the recipient; its status check says Paid."""
    sandbox, base = tc
    reference = uuid.uuid4().hex
    body = {
        "RecipientName": "Ama",
        "RecipientMsisdn": PAYER,
        "Channel": "vodafone-gh",
        "Amount": 3,
        "PrimaryCallbackURL": "http://127.0.0.1:9/cb",
        "Description": "Payout",
        "ClientReference": reference,
    }
    response = await http.post(
        f"{base}/api/merchants/{PREPAID}/send/mobilemoney", headers=basic(), json=body
    )
    assert response.json()["ResponseCode"] == "0001"
    checked = await http.get(
        f"{base}/api/merchants/{PREPAID}/transactions/status",
        params={"clientReference": reference},
        headers=basic(),
    )
    assert checked.json()["data"]["status"] == "Paid"
    assert world.lookup(PAYER).balance_minor == world.default_balance_minor + 300
    assert [e.kind for e in sandbox.ledger] == ["credit"]


async def test_other_channel_is_4103(http, tc):
    """Channel mtn-gh is not permitted on the Telecel sandbox."""
    _, base = tc
    body = {
        "CustomerMsisdn": PAYER,
        "Channel": "mtn-gh",
        "Amount": 1,
        "PrimaryCallbackUrl": "http://127.0.0.1:9/cb",
        "Description": "x",
        "ClientReference": "abc",
    }
    response = await http.post(
        f"{base}/merchantaccount/merchants/{POS}/receive/mobilemoney", headers=basic(), json=body
    )
    assert response.json()["ResponseCode"] == "4103"
