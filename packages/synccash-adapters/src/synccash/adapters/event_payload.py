"""The one home of what an outbox event carries and of its id (memory, SQL and webhooks).

Every new audit event of a payment becomes an outbox row with a deterministic id and this
payload; the relay publishes it as is (event stream, webhooks, metrics), so it carries what a
consumer needs without reading the payment: the payment's kind, amount, currency and provider
at the time of the event, beside the event itself.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Final

from synccash.core.payment import Payment, PaymentEvent

#: uuid5 namespace of outbox ids.
OUTBOX_NAMESPACE: Final = uuid.UUID("6f2b7c1e-4a8d-4f3b-9c55-2f1e0d9a7b31")
_NAMESPACE_BYTES: Final = OUTBOX_NAMESPACE.bytes


def outbox_id(payment_id: str, seq: int) -> str:
    """The deterministic outbox/event id of one payment event: uuid5(OUTBOX_NAMESPACE,
    "<payment id>/<seq>"), computed as RFC 4122 section 4.3 says (SHA-1, then the version and
    variant bits) without building UUID objects (every new event gets one, in the API and
    the worker; this is ~3x cheaper and gives the same string)."""
    name = _NAMESPACE_BYTES + f"{payment_id}/{seq}".encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest())  # as uuid5 does
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_payload(payment: Payment, event: PaymentEvent) -> dict[str, Any]:
    """What the outbox carries for one event (the worker publishes it as is)."""
    provider = payment.provider
    return {
        "payment_id": event.payment_id,
        "merchant_id": payment.merchant_id,
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "state": payment.state.value,
        "kind": payment.kind.value,
        "amount": payment.amount.to_decimal_string(),
        "currency": payment.amount.currency,
        "provider": provider.value if provider is not None else None,
        "data": dict(event.data),
    }
