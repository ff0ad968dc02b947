"""POST/GET /api/v1/payouts over the in-memory container and the scripted fake provider."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import MERCHANT, assert_problem, initiate_body, run_ready_tasks

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.adapters.settings import Settings
from synccash.core.ledger import (
    PostingKind,
    collection_wallet,
    entry,
    merchant_available,
    merchant_reserved,
    provider_float,
    topup_entry,
)
from synccash.core.money import Money
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.providers import ProviderId

URL = "/api/v1/payouts"
PAYEE = "0551234567"  # MTN


@pytest.fixture
def clock() -> ManualClock:
    """Time the tests move on."""
    return ManualClock()


@pytest.fixture
def gateway() -> FakeProviderGateway:
    """The scripted fake provider (its account holder is 'Test Holder')."""
    return FakeProviderGateway()


@pytest.fixture
def container(settings: Settings, clock: ManualClock, gateway: FakeProviderGateway) -> Container:
    """Everything in memory, on a manual clock."""
    return wire(settings, clock=clock, gateway=gateway)


async def _fund(container: Container, clock: ManualClock, *, balance: int, float_: int) -> None:
    """The merchant's available balance (as collections would leave it) and our MTN float."""
    lines = [(collection_wallet(ProviderId.MTN), balance), (merchant_available(MERCHANT), -balance)]
    seed = entry(f"seed-{balance}", PostingKind.COLLECT, lines, currency="GHS")
    await container.ledger.post(
        [seed, topup_entry("t1", ProviderId.MTN, Money(float_))], clock.now()
    )


async def _settle(container: Container, clock: ManualClock, payout_id: str) -> None:
    """Run the worker's tasks, moving the clock to each next look, until nothing is due."""
    for _ in range(30):
        await run_ready_tasks(container)
        payout = await container.payouts.get(MERCHANT, payout_id)
        if payout.next_action_at is None:
            return
        clock.set(max(payout.next_action_at, clock.now()))


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": "25.00", "payee": {"msisdn": PAYEE}, "reference": "po-1"}
    body.update(changes)
    return body


async def _available(container: Container) -> Money:
    return await container.ledger.balance(merchant_available(MERCHANT))


async def test_a_payout_pays_the_wallet_from_the_merchant_balance(
    client, auth, container, clock, gateway
):
    """202, one DISBURSE leg, CONFIRMED; the balance and our float went down by the amount."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    created = await client.post(URL, json=_body(), headers=auth(key="po-1"))
    assert created.status_code == 202, created.text
    body = created.json()
    assert (body["kind"], body["state"]) == ("payout", "INITIATED")

    await _settle(container, clock, body["id"])
    shown = (await client.get(f"{URL}/{body['id']}", headers=auth())).json()

    assert (shown["state"], [a["kind"] for a in shown["attempts"]]) == ("CONFIRMED", ["disburse"])
    assert [(e.msisdn, e.amount_minor) for e in gateway.ledger] == [("233551234567", 2500)]
    assert Money(7_500) == await _available(container)
    assert Money(97_500) == await container.ledger.balance(provider_float(ProviderId.MTN))


async def test_a_payout_the_balance_cannot_cover_is_refused_and_stores_nothing(
    client, auth, container, clock
):
    """422 insufficient_balance; no payout is listed, nothing is reserved."""
    await _fund(container, clock, balance=1_000, float_=100_000)
    response = await client.post(URL, json=_body(), headers=auth(key="po-1"))

    assert_problem(response, 422, "insufficient_balance")
    assert (await client.get(URL, headers=auth())).json()["items"] == []
    assert Money(0) == await container.ledger.balance(merchant_reserved(MERCHANT))


async def test_a_payout_to_a_wallet_that_does_not_exist_fails_and_releases(
    client, auth, container, clock, gateway
):
    """The provider says payee_not_found: FAILED with that code, the reservation released."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    gateway.script(PAYEE, Script.fails(FailureReason.PAYEE_NOT_FOUND, "PAYEE_NOT_FOUND"))
    created = (await client.post(URL, json=_body(), headers=auth(key="po-1"))).json()
    await _settle(container, clock, created["id"])
    shown = (await client.get(f"{URL}/{created['id']}", headers=auth())).json()

    assert (shown["state"], shown["failure_code"]) == ("FAILED", "payee_not_found")
    assert Money(10_000) == await _available(container)
    assert gateway.ledger == []


async def test_an_unknown_payout_is_reconciled_never_resent_elsewhere(
    client, auth, container, clock, gateway
):
    """A timeout after submit is polled on the same provider with the same reference."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    gateway.script(
        PAYEE,
        Script(
            submit=(ProviderOutcome.unknown("ReadTimeout"),),
            status=(ProviderOutcome.unknown("500"), ProviderOutcome.succeeded("t-9", "SUCCESSFUL")),
        ),
    )
    created = (await client.post(URL, json=_body(), headers=auth(key="po-1"))).json()
    await _settle(container, clock, created["id"])
    shown = (await client.get(f"{URL}/{created['id']}", headers=auth())).json()

    assert shown["state"] == "CONFIRMED"
    assert len(shown["attempts"]) == 1
    assert {ProviderId.MTN} == {r.provider for r in gateway.submits}
    assert len(gateway.ledger) == 1


@pytest.mark.parametrize(
    ("expected_name", "status"), [("test holder", 202), ("HOLDER, Test", 202), ("Kofi Mensah", 422)]
)
async def test_expected_name_is_checked_before_any_money_moves(  # noqa: PLR0917  (fixtures)
    client, auth, container, clock, gateway, expected_name, status
):
    """The account holder is 'Test Holder': a match is accepted, a mismatch is name_mismatch."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    response = await client.post(
        URL, json=_body(expected_name=expected_name), headers=auth(key="po-1")
    )

    assert status == response.status_code, response.text
    if status == 422:
        assert_problem(response, 422, "name_mismatch")
        assert gateway.submits == []
        assert Money(10_000) == await _available(container)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"payee": {"msisdn": "0311234567"}}, "invalid_msisdn"),
        ({"payee": {"msisdn": "12345"}}, "invalid_msisdn"),
        ({"amount": "12.505"}, "invalid_amount"),
        ({"amount": "0.50"}, "amount_out_of_range"),
        ({"amount": "25000.01"}, "amount_out_of_range"),
        ({"provider": "paypal"}, "unknown_provider"),
        ({"payee": {"merchant_account": MERCHANT}}, "validation_error"),
    ],
)
async def test_bad_payout_requests_are_4xx_with_stable_codes(client, auth, changes, code):
    """Every bad field: 422 with its own code, nothing stored."""
    assert_problem(await client.post(URL, json=_body(**changes), headers=auth(key="k")), 422, code)
    assert (await client.get(URL, headers=auth())).json()["items"] == []


async def test_a_payout_needs_an_idempotency_key(client, auth):
    """No Idempotency-Key: 400 idempotency_key_missing."""
    assert_problem(
        await client.post(URL, json=_body(), headers=auth()), 400, "idempotency_key_missing"
    )


async def test_replay_list_cancel_and_collections_are_not_payouts(
    client, auth, container, clock, initiate
):
    """The same key replays; list shows payouts only; cancel before sending releases the money."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    first = await client.post(URL, json=_body(), headers=auth(key="po-1"))
    again = await client.post(URL, json=_body(), headers=auth(key="po-1"))
    collection = (await initiate(initiate_body(payee={"merchant_account": MERCHANT}))).json()

    listed = (await client.get(URL, headers=auth())).json()["items"]
    cancelled = await client.post(f"{URL}/{first.json()['id']}/cancel", headers=auth())
    not_a_payout = await client.get(f"{URL}/{collection['id']}", headers=auth())

    assert (200, first.json()["id"]) == (again.status_code, again.json()["id"])
    assert [first.json()["id"]] == [p["id"] for p in listed]
    assert cancelled.json()["state"] == "CANCELLED"
    assert Money(10_000) == await _available(container)
    assert_problem(not_a_payout, 404, "payment_not_found")


async def test_a_name_check_where_the_payee_network_has_no_lookup_is_503(
    client, auth, container, clock
):
    """AT Money has no account-holder lookup: 503 name_check_unavailable, nothing stored."""
    await _fund(container, clock, balance=10_000, float_=100_000)
    body = _body(payee={"msisdn": "0271234567"}, expected_name="Ama Owusu")
    response = await client.post(URL, json=body, headers=auth(key="po-at"))

    assert_problem(response, 503, "name_check_unavailable")
    assert (await client.get(URL, headers=auth())).json()["items"] == []
