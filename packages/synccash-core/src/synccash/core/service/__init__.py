"""Use-cases: what merchants and the worker ask of SyncCash, on the ports only.

`PaymentService` serves the API (initiate, read, cancel, refund, quote, report,
callback hints); `PayoutService` the payouts (money out from a merchant's balance). `LifecycleService` serves the worker: one idempotent step of a
payment's life per task, safe under at-least-once delivery and concurrent
workers (optimistic concurrency; a reference is persisted before it is sent, and
resending always reuses it).
"""

from synccash.core.service._input import (
    PaymentPolicy,
    parse_amount,
    parse_payee,
    parse_wallets,
)
from synccash.core.service._lifecycle import LifecycleService
from synccash.core.service._payments import PaymentService, risk_summary
from synccash.core.service._payouts import PayoutService

__all__ = [
    "LifecycleService",
    "PaymentPolicy",
    "PaymentService",
    "PayoutService",
    "parse_amount",
    "parse_payee",
    "parse_wallets",
    "risk_summary",
]
