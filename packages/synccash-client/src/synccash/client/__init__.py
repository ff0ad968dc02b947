"""The SyncCash merchant SDK: call the API from Python and verify its webhooks.

    from synccash.client import SyncCash

    with SyncCash("https://pay.example.com", api_key="sk_live_...") as sc:
        payment = sc.initiate_payment(
            amount="12.50", payer="0241234567", merchant_account="shop-42", reference="order-1"
        )
        print(payment.id, payment.state)

`AsyncSyncCash` has the same methods as coroutines. Amounts are decimal strings (or
`Decimal`); floats are refused. Each POST carries an Idempotency-Key (yours, or one generated
per call) that is reused on every retry of that call, so a retry never creates a second
payment. Errors are raised as `ApiError` subclasses carrying the API's stable `code`.
"""

from synccash.client._client import AsyncSyncCash, SyncCash
from synccash.client._errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
    TransportError,
)
from synccash.client._models import Page, Payment
from synccash.client.webhooks import WebhookVerificationError, verify_signature, verify_standard

__all__ = [
    "ApiError",
    "AsyncSyncCash",
    "AuthenticationError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "Page",
    "Payment",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "SyncCash",
    "TransportError",
    "WebhookVerificationError",
    "verify_signature",
    "verify_standard",
]
