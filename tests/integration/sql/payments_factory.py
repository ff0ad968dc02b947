"""Payments for the persistence tests (plain builders, no randomness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from synccash.core.ledger import PostingKind, collection_wallet, entry, merchant_available
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind, Payee, Payment, PaymentKind, Wallet
from synccash.core.providers import ProviderId

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")
PAYEE = Msisdn.parse("0551234567")


def make_payment(
    pid: str,
    *,
    merchant: str = "m1",
    at: datetime = T0,
    minor: int = 1250,
    payer: Msisdn = PAYER,
    payee: Payee | None = None,
    key: str | None = None,
    reference: str | None = None,
    kind: PaymentKind | None = None,
    **extra: Any,
) -> Payment:
    """A new INITIATED payment with one wallet per network and rich fields."""
    payment = Payment.initiate(
        payment_id=pid,
        merchant_id=merchant,
        amount=Money(minor),
        payer=payer,
        wallets=(
            Wallet(ProviderId.MTN, payer, Money(50_000)),
            Wallet(ProviderId.TELECEL, Msisdn.parse("0201234567")),
        ),
        payee=payee if payee is not None else Payee(msisdn=PAYEE),
        now=at,
        expires_at=at + timedelta(minutes=15),
        description="Order 123",
        reference=reference,
        metadata={"order": {"id": 123, "lines": ["a", "b"]}, "vip": True},
        webhook_url="https://merchant.example/hooks",
        idempotency_key=key,
        fingerprint=None if key is None else f"fp-{key}",
        kind=kind,
    )
    for name, value in extra.items():
        setattr(payment, name, value)
    return payment


def with_collect_attempt(payment: Payment, reference: str, at: datetime) -> Payment:
    """Route the payment to MTN and create its first collection attempt."""
    payment.route = payment.wallets
    payment.add_attempt(
        reference=reference,
        provider=ProviderId.MTN,
        kind=AttemptKind.COLLECT,
        msisdn=payment.payer,
        amount=payment.amount,
        at=at,
    )
    return payment


async def fund_merchant(ledger: Any, merchant: str, minor: int, at: datetime = T0) -> None:
    """Credit a merchant's available balance (as a confirmed collection would), if the
    backend has books."""
    if ledger is None:
        return
    lines = [(collection_wallet(ProviderId.MTN), minor), (merchant_available(merchant), -minor)]
    seed = entry(f"seed-{merchant}-{minor}", PostingKind.COLLECT, lines, currency="GHS")
    await ledger.post([seed], at)
