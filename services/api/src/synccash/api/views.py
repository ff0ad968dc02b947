"""Domain objects -> response bodies. The only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import attrs
import msgspec

from synccash.api.schemas import (
    AttemptOut,
    EventOut,
    PayeeOut,
    PayerOut,
    PaymentDetail,
    PaymentLinks,
    PaymentResource,
    PaymentStatus,
    RiskOut,
    WalletOut,
)
from synccash.core.money import Money
from synccash.core.payment import Attempt, Payment, PaymentEvent, Wallet

API_PREFIX = "/api/v1"


def _dec(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d}"


def jsonable(value: Any) -> Any:
    """Turn a domain value (attrs, enums, Money, mappings) into plain JSON-ready data."""
    explain = getattr(value, "explain", None)
    if callable(explain):
        return jsonable(explain())
    if isinstance(value, Money):
        return value.to_decimal_string()
    if isinstance(value, Enum):
        return value.value
    if attrs.has(type(value)):
        return {f.name: jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def links(payment_id: str) -> PaymentLinks:
    """Links for one payment."""
    base = f"{API_PREFIX}/payments/{payment_id}"
    return PaymentLinks(
        self_=base, status=f"{base}/status", cancel=f"{base}/cancel", refund=f"{base}/refund"
    )


def _wallet(wallet: Wallet) -> WalletOut:
    return WalletOut(
        provider=wallet.provider.value,
        msisdn=str(wallet.msisdn),
        balance=wallet.balance.to_decimal_string() if wallet.balance is not None else None,
    )


def _attempt(attempt: Attempt) -> AttemptOut:
    return AttemptOut(
        seq=attempt.seq,
        reference=attempt.reference,
        provider=attempt.provider.value,
        kind=attempt.kind.value,
        status=attempt.status.value,
        amount=attempt.amount.to_decimal_string(),
        error_code=attempt.error_code,
        failure_reason=attempt.failure_reason.value if attempt.failure_reason else None,
        created_at=attempt.created_at,
        updated_at=attempt.updated_at,
    )


def _event(event: PaymentEvent) -> EventOut:
    return EventOut(
        seq=event.seq,
        type=event.type,
        at=event.at,
        actor=event.actor,
        data=jsonable(event.data),
    )


def _optional_map(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else jsonable(value)


def _risk(risk: Mapping[str, Any] | None) -> RiskOut | None:
    """The stored assessment (RiskAssessment.explain()) as the resource shows it."""
    if not risk:
        return None
    return msgspec.convert(risk, RiskOut)


def payment_resource(payment: Payment) -> PaymentResource:
    """The payment resource (initiate, cancel, refund, list)."""
    provider = payment.provider
    return PaymentResource(
        id=payment.id,
        kind=payment.kind.value,
        state=payment.state.value,
        amount=payment.amount.to_decimal_string(),
        currency=payment.amount.currency,
        provider=provider.value if provider is not None else None,
        failure_code=payment.failure_code,
        failure_reason=payment.failure_reason,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        expires_at=payment.expires_at,
        payer=PayerOut(msisdn=str(payment.payer), wallets=[_wallet(w) for w in payment.wallets]),
        payee=PayeeOut(
            msisdn=str(payment.payee.msisdn) if payment.payee.msisdn is not None else None,
            merchant_account=payment.payee.merchant_account,
        ),
        description=payment.description,
        reference=payment.reference,
        metadata=jsonable(payment.metadata),
        webhook_url=payment.webhook_url,
        fee=_dec(payment.fee_minor),
        fee_quote=_optional_map(payment.fee_quote),
        refunded_amount=_dec(payment.refunded_minor),
        flagged_for_review=payment.flagged_for_review,
        risk=_risk(payment.risk),
        route=[_wallet(w) for w in payment.route],
        routing=_optional_map(payment.routing),
        attempts=[_attempt(a) for a in payment.attempts],
        links=links(payment.id),
    )


def payment_detail(payment: Payment, events: Sequence[PaymentEvent]) -> PaymentDetail:
    """The payment resource with its audit trail."""
    base = payment_resource(payment)
    fields = {name: getattr(base, name) for name in base.__struct_fields__}
    return PaymentDetail(**fields, events=[_event(e) for e in events])


def payment_status(payment: Payment) -> PaymentStatus:
    """The status view."""
    provider = payment.provider
    return PaymentStatus(
        id=payment.id,
        kind=payment.kind.value,
        state=payment.state.value,
        amount=payment.amount.to_decimal_string(),
        currency=payment.amount.currency,
        provider=provider.value if provider is not None else None,
        failure_code=payment.failure_code,
        failure_reason=payment.failure_reason,
        attempts=[_attempt(a) for a in payment.attempts],
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        expires_at=payment.expires_at,
        links=links(payment.id),
    )
