"""Webhook signatures (what merchants verify), the retry ladder and the event body."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

from synccash.adapters.webhooks import (
    RETRY_DELAYS,
    event_body,
    is_merchant_event,
    next_attempt_at,
    sign,
    sign_rotating,
    verify,
)
from synccash.core.ports import OutboxRow

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment.confirmed"}'
T = 1_767_261_600


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    """The header is t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")> as documented."""
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_valid_signature_verifies_within_tolerance():
    """A fresh, untampered signature verifies, also 299 s later."""
    header = sign(SECRET, T, BODY)
    assert verify(SECRET, header, BODY, now=T)
    assert verify(SECRET, header, BODY, now=T + 299)


def test_tampered_body_fails():
    """Changing one byte of the body breaks the signature."""
    header = sign(SECRET, T, BODY)
    assert not verify(SECRET, header, BODY.replace(b"confirmed", b"confirmeD"), now=T)


def test_wrong_secret_fails():
    """A signature made with another secret does not verify."""
    assert not verify("whsec_other", sign(SECRET, T, BODY), BODY, now=T)


def test_old_or_future_timestamp_fails():
    """Replays older than 300 s (or from the future) are rejected."""
    header = sign(SECRET, T, BODY)
    assert not verify(SECRET, header, BODY, now=T + 301)
    assert not verify(SECRET, header, BODY, now=T - 301)


def test_tampered_timestamp_fails():
    """Moving the timestamp forward to dodge the tolerance invalidates the signature."""
    digest = sign(SECRET, T, BODY).split("v1=")[1]
    assert not verify(SECRET, f"t={T + 1000},v1={digest}", BODY, now=T + 1000)


def test_datetime_now_is_accepted():
    """`now` may be an aware datetime instead of unix seconds."""
    header = sign(SECRET, T, BODY)
    assert verify(SECRET, header, BODY, now=datetime.fromtimestamp(T + 10, UTC))


def test_malformed_headers_fail():
    """Headers without a timestamp, without v1, or with junk do not verify."""
    digest = sign(SECRET, T, BODY).split("v1=")[1]
    for header in (
        "",
        f"v1={digest}",
        f"t={T}",
        f"t=abc,v1={digest}",
        "garbage",
        f"t={T},t={T},v1={digest}",
    ):
        assert not verify(SECRET, header, BODY, now=T), header


def test_rotation_header_verifies_with_either_secret():
    """During a rotation, both the old and the new secret verify the same delivery."""
    header = sign_rotating(["whsec_new", SECRET], T, BODY)
    assert verify(SECRET, header, BODY, now=T)
    assert verify("whsec_new", header, BODY, now=T)
    assert not verify("whsec_third", header, BODY, now=T)


def test_retry_ladder_spans_about_a_day_then_gives_up():
    """16 retries at 1m, 5m x2, 10m x5, 1h x5, 6h x3 (24 h 1 min in total), then none."""
    now = datetime(2026, 1, 15, tzinfo=UTC)
    assert len(RETRY_DELAYS) == 16
    assert sum(RETRY_DELAYS, timedelta()) == timedelta(hours=24, minutes=1)
    assert next_attempt_at(1, now) == now + timedelta(minutes=1)
    assert next_attempt_at(16, now) == now + timedelta(hours=6)
    assert next_attempt_at(17, now) is None


def test_event_body_is_stable_and_carries_the_event_id():
    """The body has the outbox id, type, unix created time and payload, byte-identical on retry."""
    row = OutboxRow(
        id="evt-1",
        payment_id="pay_1",
        seq=3,
        type="payment.confirmed",
        payload={"state": "CONFIRMED", "seq": 3},
        created_at=datetime.fromtimestamp(T, UTC),
    )
    body = event_body(row)
    assert body == event_body(row)
    assert json.loads(body) == {
        "id": "evt-1",
        "type": "payment.confirmed",
        "created": T,
        "data": {"state": "CONFIRMED", "seq": 3},
    }


def test_only_payment_and_refund_events_go_to_merchants():
    """Internal attempt events stay in the audit trail."""
    assert is_merchant_event("payment.confirmed")
    assert is_merchant_event("refund.requested")
    assert not is_merchant_event("attempt.submitted")
