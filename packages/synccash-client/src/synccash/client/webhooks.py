"""Verify SyncCash webhooks on the merchant's side (no server code needed).

Two signature schemes arrive on every webhook:

- `SyncCash-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
  (one `v1` per active secret during a rotation): `verify_signature(secret, header, body)`.
- The Standard Webhooks headers `webhook-id`, `webhook-timestamp`, `webhook-signature`
  (`v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>`, the key being the base64
  part of a `whsec_...` secret): `verify_standard(secret, headers, body)`.

Both compare in constant time over the *raw* bytes received and refuse timestamps more than
`tolerance_s` (300 s) from the clock, so a captured webhook cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Final

DEFAULT_TOLERANCE_S: Final = 300
STANDARD_PREFIX: Final = "whsec_"


class WebhookVerificationError(Exception):
    """The webhook is not signed by a secret you hold, or is too old/new to trust."""


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise WebhookVerificationError unless `header` (SyncCash-Signature) signs `body`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookVerificationError("malformed SyncCash-Signature header")
        if key == "t":
            if timestamp is not None or not value.isdigit():
                raise WebhookVerificationError("malformed timestamp in SyncCash-Signature")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookVerificationError("SyncCash-Signature has no timestamp or no signature")
    _check_age(timestamp, now, tolerance_s)
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    _match(expected, candidates)


def verify_standard(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise WebhookVerificationError unless the Standard Webhooks headers sign `body`."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lower["webhook-id"]
        raw_timestamp = lower["webhook-timestamp"]
        signatures = lower["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"missing header {missing.args[0]}") from None
    if not raw_timestamp.isdigit():
        raise WebhookVerificationError("malformed webhook-timestamp")
    timestamp = int(raw_timestamp)
    _check_age(timestamp, now, tolerance_s)
    encoded = secret.removeprefix(STANDARD_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise WebhookVerificationError("the secret is not a base64 whsec_ key") from None
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [
        value
        for version, _, value in (s.partition(",") for s in signatures.split())
        if version == "v1"
    ]
    _match(expected, candidates)


def _check_age(timestamp: int, now: float | None, tolerance_s: int) -> None:
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("timestamp outside the tolerance (replayed or clock skew)")


def _match(expected: str, candidates: list[str]) -> None:
    # Check every candidate (no early exit) so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("no signature matches")
