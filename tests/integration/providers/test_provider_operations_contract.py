"""Contract tests per provider over real HTTP: payouts, refunds, quirks and provider-specific codes."""

from __future__ import annotations

import pytest
from contract_support import CallbackInbox, SandboxSet, number, request

from synccash.adapters.providers import MtnMomoClient, parse_callback
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def entries(sandboxes: SandboxSet, provider: ProviderId, kind: str) -> list[int]:
    """Amounts of the provider's ledger entries of one kind."""
    return [e.amount_minor for e in sandboxes.get(provider).ledger if e.kind == kind]


async def collected(gateway, provider: ProviderId) -> tuple[str, str | None]:
    """Collect GHS 12.50 successfully; (reference, provider transaction id)."""
    req = request(provider, number(provider))
    await gateway.submit(req)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    return req.reference, status.provider_transaction_id


@pytest.mark.parametrize("provider", list(ProviderId))
async def test_disbursement_credits_the_payee_once(provider, sandboxes: SandboxSet, gateway):
    """A payout is accepted (or done at once) and confirmed by its status; one credit."""
    sandboxes.get(provider)
    req = request(provider, number(provider), kind=AttemptKind.DISBURSE, amount="20.00")
    submitted = await gateway.submit(req)
    assert submitted.kind in (OutcomeKind.PENDING, OutcomeKind.SUCCEEDED)
    assert (await gateway.submit(req)).kind in (OutcomeKind.PENDING, OutcomeKind.SUCCEEDED)
    status = await gateway.status(provider, AttemptKind.DISBURSE, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert entries(sandboxes, provider, "credit") == [2000]


async def test_mtn_refund_by_reference_to_refund(sandboxes: SandboxSet, gateway):
    """An MTN refund names the original X-Reference-Id and is confirmed on /refund/{id}."""
    sandboxes.get(ProviderId.MTN)
    original, _ = await collected(gateway, ProviderId.MTN)
    refund = request(
        ProviderId.MTN, number(ProviderId.MTN), kind=AttemptKind.REFUND, original_reference=original
    )
    assert (await gateway.submit(refund)).kind is OutcomeKind.PENDING
    status = await gateway.status(ProviderId.MTN, AttemptKind.REFUND, refund.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert entries(sandboxes, ProviderId.MTN, "refund") == [1250]


async def test_mtn_refund_of_unknown_collection_fails(sandboxes: SandboxSet, gateway):
    """Refunding a collection MTN never saw ends FAILED (not allowed); no money moves."""
    sandboxes.get(ProviderId.MTN)
    missing = request(ProviderId.MTN, number(ProviderId.MTN)).reference
    refund = request(
        ProviderId.MTN, number(ProviderId.MTN), kind=AttemptKind.REFUND, original_reference=missing
    )
    await gateway.submit(refund)
    status = await gateway.status(ProviderId.MTN, AttemptKind.REFUND, refund.reference)
    assert (status.kind, status.reason) == (OutcomeKind.FAILED, FailureReason.NOT_ALLOWED)
    assert entries(sandboxes, ProviderId.MTN, "refund") == []


async def test_airtel_refund_by_airtel_money_id(sandboxes: SandboxSet, gateway):
    """An AT Money refund names the airtel_money_id from the enquiry and is answered at once."""
    sandboxes.get(ProviderId.AIRTELTIGO)
    _, money_id = await collected(gateway, ProviderId.AIRTELTIGO)
    refund = request(
        ProviderId.AIRTELTIGO,
        number(ProviderId.AIRTELTIGO),
        kind=AttemptKind.REFUND,
        original_provider_transaction_id=money_id,
    )
    assert (await gateway.submit(refund)).kind is OutcomeKind.SUCCEEDED
    assert (await gateway.submit(refund)).kind is OutcomeKind.SUCCEEDED  # replay: money moves once
    assert entries(sandboxes, ProviderId.AIRTELTIGO, "refund") == [1250]


async def test_telecel_refund_is_a_send_to_the_payer(sandboxes: SandboxSet, gateway):
    """Telecel (Hubtel) has no refund call: the refund is a Send Money to the payer."""
    sandboxes.get(ProviderId.TELECEL)
    await collected(gateway, ProviderId.TELECEL)
    refund = request(ProviderId.TELECEL, number(ProviderId.TELECEL), kind=AttemptKind.REFUND)
    await gateway.submit(refund)
    status = await gateway.status(ProviderId.TELECEL, AttemptKind.REFUND, refund.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert entries(sandboxes, ProviderId.TELECEL, "credit") == [1250]


async def test_mtn_created_status_is_pending(sandboxes: SandboxSet, gateway):
    """The 'delayed' payer stays in the undocumented CREATED status: PENDING."""
    sandboxes.get(ProviderId.MTN)
    req = request(ProviderId.MTN, number(ProviderId.MTN, "04"))
    await gateway.submit(req)
    status = await gateway.status(ProviderId.MTN, AttemptKind.COLLECT, req.reference)
    assert (status.kind, status.provider_code) == (OutcomeKind.PENDING, "CREATED")


async def test_mtn_reason_object_form(sandboxes: SandboxSet, gateway):
    """With the Swagger's {code, message} reason form the mapping is the same."""
    sandbox = sandboxes.get(ProviderId.MTN)
    sandbox.config.options["reason_format"] = "object"
    try:
        req = request(ProviderId.MTN, number(ProviderId.MTN, "01"))
        await gateway.submit(req)
        status = await gateway.status(ProviderId.MTN, AttemptKind.COLLECT, req.reference)
    finally:
        sandbox.config.options["reason_format"] = "string"
    assert (status.kind, status.reason) == (OutcomeKind.FAILED, FailureReason.REJECTED_BY_PAYER)


async def test_mtn_content_length_quirk_and_strict_currency(sandboxes: SandboxSet, gateway):
    """With MTN's 411-without-Content-Length and EUR-only sandbox switched on, we still get through."""
    sandbox = sandboxes.get(ProviderId.MTN)
    sandbox.config.options.update(require_content_length=True, strict_currency=True)
    try:
        reference, _ = await collected(gateway, ProviderId.MTN)
        client = gateway.client(ProviderId.MTN)
        assert isinstance(client, MtnMomoClient)
        balance = await client.balance()
    finally:
        sandbox.config.options.update(require_content_length=False, strict_currency=False)
    assert balance is not None
    assert balance.currency == "EUR"
    assert sandboxes.debits(ProviderId.MTN, reference)


@pytest.mark.parametrize("provider", list(ProviderId))
async def test_provider_unavailable_at_submit(provider, sandboxes: SandboxSet, gateway):
    """The 'unavailable' test number is refused with a 5xx: UNKNOWN, and the status says NOT_FOUND."""
    sandboxes.get(provider)
    req = request(provider, number(provider, "08"))
    assert (await gateway.submit(req)).kind is OutcomeKind.UNKNOWN
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.NOT_FOUND


@pytest.mark.parametrize("provider", list(ProviderId))
async def test_internal_error_number_is_never_a_guess(provider, sandboxes: SandboxSet, gateway):
    """The 'internal error' payer: no outcome claims success, and no debit is recorded."""
    sandboxes.get(provider)
    req = request(provider, number(provider, "07"))
    submitted = await gateway.submit(req)
    assert submitted.kind in (OutcomeKind.PENDING, OutcomeKind.UNKNOWN)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    # MTN: FAILED/INTERNAL_PROCESSING_ERROR; AT Money: TA (ambiguous); Telecel: 0000 + Unpaid.
    assert status.kind in (OutcomeKind.FAILED, OutcomeKind.UNKNOWN, OutcomeKind.PENDING)
    assert status.kind is not OutcomeKind.PENDING or provider is ProviderId.TELECEL
    assert sandboxes.debits(provider, req.reference) == []


async def test_airtel_application_callback_parses(
    sandboxes: SandboxSet, inbox: CallbackInbox, gateway
):
    """AT Money calls the application's callback URL; the body names our reference (hash allowed)."""
    sandbox = sandboxes.get(ProviderId.AIRTELTIGO)
    options = sandbox.config.options
    options.update(
        callback_url=f"{inbox.base_url}/api/v1/callbacks/airteltigo", callback_secret="k"
    )
    try:
        req = request(ProviderId.AIRTELTIGO, number(ProviderId.AIRTELTIGO, "01"))
        await gateway.submit(req)
        [received] = await inbox.wait_for(1)
    finally:
        options.update(callback_url=None, callback_secret=None)
    assert received.path_reference is None
    hint = parse_callback(received.provider, received.body, received.headers, None)
    assert hint is not None
    assert (hint.reference, hint.claimed) == (req.reference, OutcomeKind.FAILED)
