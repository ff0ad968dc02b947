"""Webhook signatures (ours and Standard Webhooks'), verification, bodies and the retry ladder."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from synccash.core.ports import OutboxRow

SIGNATURE_HEADER: Final = "SyncCash-Signature"
EVENT_ID_HEADER: Final = "SyncCash-Event-Id"
DEFAULT_TOLERANCE_S: Final = 300
DELIVERY_TIMEOUT_S: Final = 5.0
#: The Standard Webhooks headers (https://www.standardwebhooks.com), sent beside ours.
STANDARD_ID_HEADER: Final = "webhook-id"
STANDARD_TIMESTAMP_HEADER: Final = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER: Final = "webhook-signature"
_WHSEC: Final = "whsec_"

#: Wait before retry n+1 after n failed attempts (Hyperswitch's ladder: 16 retries, ~24 h).
RETRY_DELAYS: Final[tuple[timedelta, ...]] = (
    (timedelta(minutes=1),)
    + (timedelta(minutes=5),) * 2
    + (timedelta(minutes=10),) * 5
    + (timedelta(hours=1),) * 5
    + (timedelta(hours=6),) * 3
)

#: Event types merchants receive (attempt-level internals stay in the audit trail).
MERCHANT_EVENT_PREFIXES: Final = ("payment.", "refund.")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `SyncCash-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def sign_rotating(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header with one `v1` per secret (current and previous during a rotation)."""
    signatures = ",".join(f"v1={_digest(s, timestamp, body)}" for s in secrets)
    return f"t={timestamp},{signatures}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: float | datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True if `header` signs the raw `body` with `secret` within `tolerance_s` of `now`.

    `now` is unix seconds (e.g. `time.time()`) or an aware datetime. Comparison is
    constant-time; any `v1` value may match (secret rotation).
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    # Check every candidate (no early exit) so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    return matched


def is_merchant_event(event_type: str) -> bool:
    """Whether merchants receive this event type as a webhook."""
    return event_type.startswith(MERCHANT_EVENT_PREFIXES)


def standard_key(secret: str) -> bytes:
    """The HMAC key Standard Webhooks derive from a secret: base64 after `whsec_`, else UTF-8.

    (Standard Webhooks libraries decode the part after `whsec_` as base64: for a
    `WEBHOOK_SECRET` that is not in that form, give them `whsec_` + base64 of its bytes.)
    """
    if secret.startswith(_WHSEC):
        encoded = secret.removeprefix(_WHSEC)
        try:  # padded as the libraries pad it
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            pass  # not base64 after all (a hand-made WEBHOOK_SECRET): its bytes, as below
    return secret.encode()


def standard_signature(secrets: Sequence[str], event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256("id.timestamp.body")>` per secret."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(standard_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def event_body(row: OutboxRow, sequence: int | None = None) -> bytes:
    """The webhook (and event stream) JSON body of one outbox event: compact, sorted keys.

    `sequence`: the endpoint's sequence number, for deliveries to a webhook endpoint.
    """
    document: dict[str, Any] = {
        "id": row.id,
        "type": row.type,
        "created": int(row.created_at.timestamp()),
        "data": dict(row.payload),
    }
    if sequence is not None:
        document["sequence"] = sequence
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def next_attempt_at(failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after `failed_attempts` failures, or None to give up."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[failed_attempts - 1]
