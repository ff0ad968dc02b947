"""Use-case inputs and outputs: plain values the entry points build from raw requests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from attrs import field, frozen

from synccash.core.payment import Payment
from synccash.core.ports import DailyRow


@frozen
class WalletInput:
    """A payer wallet as the merchant sent it (raw strings, validated by the use-case)."""

    provider: str
    msisdn: str
    balance: str | None = None


@frozen
class InitiatePayment:
    """Create a payment. Amount and MSISDNs are raw strings; the use-case validates them."""

    merchant_id: str
    idempotency_key: str
    fingerprint: str
    amount: str
    payer_msisdn: str
    currency: str = "GHS"
    wallets: tuple[WalletInput, ...] = ()
    payee_msisdn: str | None = None
    payee_account: str | None = None
    description: str = ""
    reference: str | None = None
    metadata: Mapping[str, Any] = field(factory=dict)
    webhook_url: str | None = None


@frozen
class CreatePayout:
    """Pay out from the merchant's balance to a wallet. Raw strings; the use-case validates.

    `provider` names the payee's network (else its prefix says, and a lookup finds a ported
    number); `expected_name` is checked against the account holder's name before any money
    moves.
    """

    merchant_id: str
    idempotency_key: str
    fingerprint: str
    amount: str
    payee_msisdn: str
    currency: str = "GHS"
    provider: str | None = None
    expected_name: str | None = None
    description: str = ""
    reference: str | None = None
    metadata: Mapping[str, Any] = field(factory=dict)
    webhook_url: str | None = None


@frozen
class InitiateResult:
    """The payment, and whether it already existed for this idempotency key."""

    payment: Payment
    replayed: bool


@frozen
class QuoteRequest:
    """Ask what the router would choose; nothing is stored."""

    amount: str
    payer_msisdn: str
    wallets: tuple[WalletInput, ...] = ()
    payee_msisdn: str | None = None
    payee_account: str | None = None
    currency: str = "GHS"


@frozen
class DailyReport:
    """A merchant's payments created on one UTC day, by state and provider."""

    merchant_id: str
    day: date
    rows: tuple[DailyRow, ...]
    total_count: int
    total_amount_minor: int
    total_fee_minor: int
    confirmed_count: int
    success_rate: float

    @classmethod
    def from_rows(cls, merchant_id: str, day: date, rows: tuple[DailyRow, ...]) -> DailyReport:
        """Aggregate the repository's rows."""
        total = sum(r.count for r in rows)
        confirmed = sum(r.count for r in rows if r.state.value in ("CONFIRMED", "REFUNDED"))
        settled = sum(
            r.count for r in rows if r.state.value in ("CONFIRMED", "REFUNDED", "FAILED", "EXPIRED")
        )
        return cls(
            merchant_id=merchant_id,
            day=day,
            rows=rows,
            total_count=total,
            total_amount_minor=sum(r.amount_minor for r in rows),
            total_fee_minor=sum(r.fee_minor for r in rows),
            confirmed_count=confirmed,
            success_rate=(confirmed / settled) if settled else 0.0,
        )

    def explain(self) -> dict[str, Any]:
        """JSON-ready report: decimal strings for money, breakdowns by state and provider."""
        by_state: dict[str, dict[str, Any]] = {}
        by_provider: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            for bucket, key in (
                (by_state, row.state.value),
                (by_provider, row.provider.value if row.provider else "unrouted"),
            ):
                entry = bucket.setdefault(key, {"count": 0, "amount_minor": 0, "fee_minor": 0})
                entry["count"] += row.count
                entry["amount_minor"] += row.amount_minor
                entry["fee_minor"] += row.fee_minor
        for bucket in (by_state, by_provider):
            for entry in bucket.values():
                entry["amount"] = _dec(entry.pop("amount_minor"))
                entry["fees"] = _dec(entry.pop("fee_minor"))
        return {
            "merchant_id": self.merchant_id,
            "date": self.day.isoformat(),
            "total_count": self.total_count,
            "total_amount": _dec(self.total_amount_minor),
            "total_fees": _dec(self.total_fee_minor),
            "confirmed_count": self.confirmed_count,
            "success_rate": round(self.success_rate, 4),
            "by_state": by_state,
            "by_provider": by_provider,
        }


def _dec(minor: int) -> str:
    units, cents = divmod(minor, 100)
    return f"{units}.{cents:02d}"
