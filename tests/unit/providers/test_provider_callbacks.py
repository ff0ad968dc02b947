"""parse_callback: provider callback bodies into hints; malformed bodies give None."""

from __future__ import annotations

import json

import pytest

from synccash.adapters.providers import CallbackHint, parse_callback
from synccash.core.outcomes import OutcomeKind
from synccash.core.providers import ProviderId

REF = "0b7f3e1e-6f0a-4c1e-9a43-3f2d1a9c8b7e"


def raw(data: object) -> bytes:
    """JSON bytes."""
    return json.dumps(data).encode()


def test_mtn_failed_callback_with_string_reason():
    """MTN's observed body (no reference id) plus the path reference gives a FAILED hint."""
    body = raw(
        {
            "externalId": "pay_1",
            "amount": "100",
            "currency": "EUR",
            "payer": {"partyIdType": "MSISDN", "partyId": "46733123451"},
            "payeeNote": "x",
            "status": "FAILED",
            "reason": "APPROVAL_REJECTED",
        }
    )
    hint = parse_callback(ProviderId.MTN, body, {}, REF)
    assert hint == CallbackHint(
        ProviderId.MTN,
        REF,
        OutcomeKind.FAILED,
        provider_code="APPROVAL_REJECTED",
        external_id="pay_1",
    )


def test_mtn_success_callback_with_object_reason_form_and_txn_id():
    """SUCCESSFUL carries the financialTransactionId."""
    body = raw({"externalId": "p", "status": "SUCCESSFUL", "financialTransactionId": "555"})
    hint = parse_callback(ProviderId.MTN, body, {}, REF)
    assert hint is not None
    assert (hint.claimed, hint.provider_transaction_id) == (OutcomeKind.SUCCEEDED, "555")


def test_mtn_failed_reason_object():
    """The spec's ErrorReason object form is read too."""
    body = raw({"status": "FAILED", "reason": {"code": "NOT_ENOUGH_FUNDS", "message": "m"}})
    hint = parse_callback(ProviderId.MTN, body, {}, REF)
    assert hint is not None
    assert (hint.claimed, hint.provider_code) == (OutcomeKind.FAILED, "NOT_ENOUGH_FUNDS")


def test_mtn_without_path_reference_is_none():
    """An MTN body alone names no attempt."""
    assert parse_callback(ProviderId.MTN, raw({"status": "SUCCESSFUL"}), {}, None) is None


def test_airtel_callback_uses_body_transaction_id():
    """Airtel's per-application callback names our reference as transaction.id."""
    body = raw(
        {
            "transaction": {
                "id": REF,
                "message": "Paid GHS 12.50",
                "status_code": "TS",
                "airtel_money_id": "MP210603.1234.L06941",
            },
            "hash": "ignored-but-allowed",
        }
    )
    hint = parse_callback(ProviderId.AIRTELTIGO, body, {"hash": "x"}, None)
    assert hint == CallbackHint(
        ProviderId.AIRTELTIGO,
        REF,
        OutcomeKind.SUCCEEDED,
        provider_code="TS",
        provider_transaction_id="MP210603.1234.L06941",
    )


def test_airtel_path_and_body_disagree_is_none():
    """A body naming another attempt than the URL is not trusted."""
    body = raw({"transaction": {"id": "other", "status_code": "TF"}})
    assert parse_callback(ProviderId.AIRTELTIGO, body, {}, REF) is None


def test_telecel_callback_maps_client_reference_back():
    """Hubtel's dashless ClientReference is turned back into our UUID reference."""
    body = raw(
        {
            "ResponseCode": "2001",
            "Message": "failed",
            "Data": {
                "ClientReference": REF.replace("-", ""),
                "TransactionId": "t1",
                "ExternalTransactionId": "e1",
            },
        }
    )
    hint = parse_callback(ProviderId.TELECEL, body, {}, None)
    assert hint is not None
    assert (hint.reference, hint.claimed, hint.provider_transaction_id) == (
        REF,
        OutcomeKind.FAILED,
        "e1",
    )


def test_telecel_callback_with_path_reference():
    """With the path reference the body's ClientReference must match it."""
    body = raw({"ResponseCode": "0000", "Data": {"ClientReference": REF.replace("-", "")}})
    hint = parse_callback(ProviderId.TELECEL, body, {}, REF)
    assert hint is not None
    assert (hint.reference, hint.claimed) == (REF, OutcomeKind.SUCCEEDED)
    other = raw({"ResponseCode": "0000", "Data": {"ClientReference": "someoneelse"}})
    assert parse_callback(ProviderId.TELECEL, other, {}, REF) is None


@pytest.mark.parametrize("provider", list(ProviderId))
@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[]", b"42", b'"text"', b"null", b"{}", raw({"status": None})],
)
def test_malformed_bodies_give_none(provider, body):
    """Malformed or empty bodies never raise and give None."""
    assert parse_callback(provider, body, {}, None) is None


def test_unknown_mtn_status_is_none():
    """A status MTN never sends is not a hint."""
    assert parse_callback(ProviderId.MTN, raw({"status": "BANANA"}), {}, REF) is None
