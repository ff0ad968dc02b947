"""Every request, response and callback example Hubtel publishes for Direct Receive Money
(shared/provider-specs/hubtel) replayed through our Telecel client's parsers and sandbox, so
a drift from the published shapes fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_fakes import jresp

from synccash.adapters.providers import parse_callback
from synccash.adapters.providers.telecel import status_outcome, submit_outcome
from synccash.core.outcomes import OutcomeKind
from synccash.core.providers import ProviderId
from synccash.sandbox import telecel

DOC = Path("/work/shared/provider-specs/hubtel/HUBTEL_DIRECT_RECEIVE_MONEY.md")


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def examples() -> list[dict[str, Any]]:
    """The JSON examples of the page, in order."""
    return [json.loads(block) for block in _blocks("json")]


def test_the_page_has_the_five_json_examples():
    """Receive answer, success and failed callbacks, Paid and Unpaid status checks."""
    assert len(examples()) == 5


def test_receive_money_answer_is_pending_with_customer_borne_charges():
    """0001 'Transaction pending' is PENDING; Charges 0.05 on top cost us nothing (after = 0.8)."""
    [answer] = [e for e in examples() if e.get("ResponseCode") == "0001"]
    outcome = submit_outcome(jresp(200, answer))
    assert (outcome.kind, outcome.provider_charges_minor) == (OutcomeKind.PENDING, 0)


@pytest.mark.parametrize(("code", "claimed"), [("0000", "succeeded"), ("2001", "failed")])
def test_callbacks_parse_into_hints_for_our_client_reference(code, claimed):
    """The published callbacks name their ClientReference and claim success / failure."""
    [callback] = [e for e in examples() if e.get("ResponseCode") == code]
    hint = parse_callback(ProviderId.TELECEL, json.dumps(callback).encode(), {}, None)
    assert hint is not None
    assert (hint.reference, hint.claimed.value, hint.provider_code) == (
        "3jL2KlUy3vt21",
        claimed,
        code,
    )


@pytest.mark.parametrize(
    ("status", "kind", "charges"), [("Paid", "succeeded", 2), ("Unpaid", "pending", 2)]
)
def test_status_check_examples(status, kind, charges):
    """Paid is SUCCEEDED, Unpaid (with 0000) PENDING; charges 0.02 borne by the merchant."""
    [check] = [e for e in examples() if e.get("data", {}).get("status") == status]
    outcome = status_outcome(jresp(200, check))
    assert (outcome.kind.value, outcome.provider_charges_minor) == (kind, charges)
    if status == "Paid":
        assert outcome.provider_transaction_id == check["data"]["externalTransactionId"]


async def test_the_sample_request_is_accepted_by_the_sandbox():
    """The published request body, sent to our sandbox (its POS id and credentials), is 0001."""
    [http_sample] = [b for b in _blocks("http") if b.startswith("POST")]
    body = json.loads(http_sample[http_sample.index("{") :])
    sandbox = telecel.create_sandbox()
    sandbox.set_faults(drop_callback_rate=1.0)  # the sample's callback URL is a real site
    app = telecel.create_app(sandbox)

    credentials = telecel.DEFAULT_CREDENTIALS
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hubtel"
    ) as http:
        response = await http.post(
            f"/merchantaccount/merchants/{credentials['merchant_account']}/receive/mobilemoney",
            json=body,
            auth=(credentials["client_id"], credentials["client_secret"]),
        )
    answer = response.json()
    assert (response.status_code, answer["ResponseCode"]) == (200, "0001")
    assert (answer["Data"]["ClientReference"], answer["Data"]["Amount"]) == ("3jL2KlUy3vt21", 0.8)
    assert sandbox.attempt("3jL2KlUy3vt21") is not None
    await sandbox.aclose()
