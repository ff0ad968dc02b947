"""Provider callbacks: parsed into hints, never trusted (money-safety rule 5).

A callback only tells the worker *which* attempt to ask about now; the status
API decides. Callbacks are unsigned (MTN, Hubtel) or optionally hashed
(Airtel), can come twice, late or out of order, so parsing is tolerant and
never raises: a body we cannot read gives None.

Our reference travels in the callback URL we gave the provider
(`{PUBLIC_BASE_URL}/api/v1/callbacks/{provider}/{reference}`), because MTN's
body carries the externalId but not the reference id. Airtel's callback URL is
configured per application, so its body's `transaction.id` (our reference) is
used; Hubtel's `ClientReference` is our reference without dashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from synccash.adapters.providers._airtel_crypto import callback_hash_matches
from synccash.adapters.providers._http import as_dict, text
from synccash.adapters.providers._table import Operation
from synccash.adapters.providers.airteltigo import AIRTEL_STATUSES
from synccash.adapters.providers.mtn import MTN_CODES, MTN_STATUSES, reason_code
from synccash.adapters.providers.telecel import (
    TELECEL_CODES,
    client_reference,
    reference_from_client,
)
from synccash.core.outcomes import OutcomeKind
from synccash.core.providers import ProviderId


@frozen
class CallbackHint:
    """What a callback claims about one attempt (a hint: confirm by status query)."""

    provider: ProviderId
    reference: str  # our attempt reference
    claimed: OutcomeKind  # what the callback says; UNKNOWN when it says nothing we know
    provider_code: str | None = None
    provider_transaction_id: str | None = None
    external_id: str | None = None  # MTN externalId = our payment id


def parse_callback(
    provider: ProviderId,
    body: bytes,
    headers: Mapping[str, str],
    path_reference: str | None,
) -> CallbackHint | None:
    """Parse a provider callback into a hint, or None when it is malformed or names no attempt.

    `headers` is accepted for symmetry with `callback_authentic`, which checks Airtel's
    optional hash; the hint is not trusted either way.
    """
    del headers  # the hash is checked by callback_authentic
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    path_reference = path_reference.strip() if path_reference else None
    match provider:
        case ProviderId.MTN:
            return _mtn(data, path_reference)
        case ProviderId.AIRTELTIGO:
            return _airtel(data, path_reference)
        case ProviderId.TELECEL:
            return _telecel(data, path_reference)
    return None  # pragma: no cover - exhaustive over ProviderId


def callback_authentic(
    provider: ProviderId, body: bytes, headers: Mapping[str, str], *, airtel_key: str = ""
) -> bool:
    """False only for an AT Money callback that fails Airtel's callback authentication.

    With `AIRTELTIGO_CALLBACK_KEY` set, an AT Money callback must carry the Base64
    HMAC-SHA256 of its `transaction` object under that key (`_airtel_crypto`); MTN and
    Hubtel sign nothing, so theirs are always "authentic" (and only hints anyway).
    """
    if provider is not ProviderId.AIRTELTIGO or not airtel_key:
        return True
    return callback_hash_matches(body, dict(headers), airtel_key)


def _mtn(data: dict[str, Any], path_reference: str | None) -> CallbackHint | None:
    if not path_reference:
        return None  # the body has no reference id
    status = text(data.get("status"))
    rule = MTN_STATUSES.rule(Operation.STATUS, status)
    if rule is None:
        return None
    code = status
    if rule.kind is OutcomeKind.FAILED:
        reason = reason_code(data.get("reason"))
        code = reason or status
        found = MTN_CODES.rule(Operation.STATUS, reason)
        claimed = found.kind if found is not None else OutcomeKind.FAILED
    else:
        claimed = rule.kind
    return CallbackHint(
        ProviderId.MTN,
        path_reference,
        claimed,
        provider_code=code,
        provider_transaction_id=text(data.get("financialTransactionId")),
        external_id=text(data.get("externalId")),
    )


def _airtel(data: dict[str, Any], path_reference: str | None) -> CallbackHint | None:
    txn = data.get("transaction")
    if not isinstance(txn, dict):
        return None
    body_reference = text(txn.get("id"))
    reference = path_reference or body_reference
    if not reference or (path_reference and body_reference and body_reference != path_reference):
        return None
    status = text(txn.get("status_code")) or text(txn.get("status"))
    rule = AIRTEL_STATUSES.rule(Operation.STATUS, status)
    return CallbackHint(
        ProviderId.AIRTELTIGO,
        reference,
        rule.kind if rule is not None else OutcomeKind.UNKNOWN,
        provider_code=status,
        provider_transaction_id=text(txn.get("airtel_money_id")),
    )


def _telecel(data: dict[str, Any], path_reference: str | None) -> CallbackHint | None:
    code = text(data.get("ResponseCode")) or text(data.get("responseCode"))
    payload = as_dict(data.get("Data") or data.get("data"))
    body_reference = text(payload.get("ClientReference")) or text(payload.get("clientReference"))
    if (
        path_reference
        and body_reference
        and client_reference(path_reference) != client_reference(body_reference)
    ):
        return None
    reference = path_reference or (
        reference_from_client(body_reference) if body_reference else None
    )
    if not reference or code is None:
        return None
    rule = TELECEL_CODES.rule(Operation.STATUS, code) or TELECEL_CODES.rule(Operation.SUBMIT, code)
    return CallbackHint(
        ProviderId.TELECEL,
        reference,
        rule.kind if rule is not None else OutcomeKind.UNKNOWN,
        provider_code=code,
        provider_transaction_id=text(payload.get("ExternalTransactionId"))
        or text(payload.get("TransactionId")),
    )
