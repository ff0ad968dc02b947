"""Signed merchant webhooks: signing, verification (for merchants) and delivery with retries.

For merchants
-------------
Every webhook is an HTTP POST with a JSON body::

    {"id": "<event id>", "type": "payment.confirmed", "created": 1767261600,
     "data": {"payment_id": ..., "merchant_id": ..., "state": ..., "seq": ..., ...},
     "sequence": 17}

(`sequence`: deliveries to a webhook endpoint only: that endpoint's increasing number) and
the headers::

    SyncCash-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    webhook-id: <event id>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>

The last three are Standard Webhooks (https://www.standardwebhooks.com): any of its libraries
verifies them with the endpoint's `whsec_…` secret (the key is the base64 after `whsec_`;
for the global `WEBHOOK_SECRET`, its UTF-8 bytes). During a secret rotation both headers
carry one signature per active secret. To check it, call
`verify(secret, header, raw_body, now=time.time())` (or re-implement it: compute the HMAC
over the *raw* bytes you received, compare in constant time, and reject timestamps more than
300 s from your clock). `id` is stable across retries and the body of a retry is byte-identical: de-duplicate on
`id`. Delivery order is
not guaranteed; `data.seq` orders the events of one payment. Answer 2xx quickly; anything
else (or no answer within 5 s) is retried at 1 min, 5 min x2, 10 min x5, 1 h x5, 6 h x3
(16 retries, about 24 h), then the delivery is marked failed.
"""

from __future__ import annotations

from synccash.adapters._webhook_dispatch import WebhookDispatcher, signed_headers
from synccash.adapters._webhook_signing import (
    DEFAULT_TOLERANCE_S,
    DELIVERY_TIMEOUT_S,
    EVENT_ID_HEADER,
    MERCHANT_EVENT_PREFIXES,
    RETRY_DELAYS,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    event_body,
    is_merchant_event,
    next_attempt_at,
    sign,
    sign_rotating,
    standard_key,
    standard_signature,
    verify,
)
from synccash.adapters._webhook_store import (
    AuditTrailEvents,
    EventLookup,
    InMemoryWebhookDeliveries,
    MemoryDelivery,
    PendingDelivery,
    WebhookDeliveryStore,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "DELIVERY_TIMEOUT_S",
    "EVENT_ID_HEADER",
    "MERCHANT_EVENT_PREFIXES",
    "RETRY_DELAYS",
    "SIGNATURE_HEADER",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "AuditTrailEvents",
    "EventLookup",
    "InMemoryWebhookDeliveries",
    "MemoryDelivery",
    "PendingDelivery",
    "WebhookDeliveryStore",
    "WebhookDispatcher",
    "event_body",
    "is_merchant_event",
    "next_attempt_at",
    "sign",
    "sign_rotating",
    "signed_headers",
    "standard_key",
    "standard_signature",
    "verify",
]
