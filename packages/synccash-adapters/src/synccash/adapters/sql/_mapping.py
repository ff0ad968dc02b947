"""Explicit row <-> domain mapping. Named functions, no `Cls(**row)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from synccash.adapters.event_payload import event_payload, outbox_id
from synccash.adapters.sql._ledger import remember_posted
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payee,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.providers import ProviderId

Row = Mapping[Any, Any]


def wallet_to_doc(wallet: Wallet) -> dict[str, Any]:
    """A wallet as a JSON document."""
    return {
        "provider": wallet.provider.value,
        "msisdn": wallet.msisdn.e164,
        "balance_minor": None if wallet.balance is None else wallet.balance.minor,
        "currency": None if wallet.balance is None else wallet.balance.currency,
    }


def wallet_from_doc(doc: Row) -> Wallet:
    """A wallet from its JSON document."""
    balance = doc.get("balance_minor")
    return Wallet(
        provider=ProviderId(doc["provider"]),
        msisdn=Msisdn(doc["msisdn"]),
        balance=None if balance is None else Money(int(balance), doc.get("currency") or "GHS"),
    )


def reached_provider(payment: Payment) -> bool:
    """True once any attempt was sent to a provider (fraud counts ignore the others)."""
    return any(
        a.submit_count > 0 or a.status is not AttemptStatus.CREATED for a in payment.attempts
    )


def payment_to_row(payment: Payment) -> dict[str, Any]:
    """Every payments column for an INSERT (or UPDATE) of this payment."""
    provider = payment.provider
    return {
        "id": payment.id,
        "merchant_id": payment.merchant_id,
        "idempotency_key": payment.idempotency_key,
        "fingerprint": payment.fingerprint,
        "amount_minor": payment.amount.minor,
        "currency": payment.amount.currency,
        "payer": payment.payer.e164,
        "payee_msisdn": None if payment.payee.msisdn is None else payment.payee.msisdn.e164,
        "payee_account": payment.payee.merchant_account,
        "payee_key": payment.payee.key,
        "wallets": [wallet_to_doc(w) for w in payment.wallets],
        "description": payment.description,
        "reference": payment.reference,
        "metadata": dict(payment.metadata),
        "webhook_url": payment.webhook_url,
        "kind": payment.kind.value,
        "state": payment.state.value,
        "version": payment.version,
        "provider": None if provider is None else provider.value,
        "reached_provider": reached_provider(payment),
        "failure_code": payment.failure_code,
        "failure_reason": payment.failure_reason,
        "route": [wallet_to_doc(w) for w in payment.route],
        "routing": None if payment.routing is None else dict(payment.routing),
        "risk": None if payment.risk is None else dict(payment.risk),
        "fee_quote": None if payment.fee_quote is None else dict(payment.fee_quote),
        "fee_minor": payment.fee_minor,
        "flagged_for_review": payment.flagged_for_review,
        "refunded_minor": payment.refunded_minor,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "expires_at": payment.expires_at,
        "next_action_at": payment.next_action_at,
    }


def attempt_to_row(payment_id: str, attempt: Attempt) -> dict[str, Any]:
    """Every payment_attempts column for an upsert of this attempt."""
    return {
        "reference": attempt.reference,
        "payment_id": payment_id,
        "seq": attempt.seq,
        "provider": attempt.provider.value,
        "kind": attempt.kind.value,
        "msisdn": attempt.msisdn.e164,
        "amount_minor": attempt.amount.minor,
        "currency": attempt.amount.currency,
        "status": attempt.status.value,
        "provider_transaction_id": attempt.provider_transaction_id,
        "error_code": attempt.error_code,
        "failure_reason": None if attempt.failure_reason is None else attempt.failure_reason.value,
        "submit_count": attempt.submit_count,
        "poll_count": attempt.poll_count,
        "original_reference": attempt.original_reference,
        "created_at": attempt.created_at,
        "updated_at": attempt.updated_at,
        "provider_charges_minor": attempt.provider_charges_minor,
    }


def attempt_from_row(row: Row) -> Attempt:
    """An Attempt from its payment_attempts row."""
    reason = row["failure_reason"]
    return Attempt(
        reference=row["reference"],
        seq=row["seq"],
        provider=ProviderId(row["provider"]),
        kind=AttemptKind(row["kind"]),
        msisdn=Msisdn(row["msisdn"]),
        amount=Money(int(row["amount_minor"]), row["currency"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status=AttemptStatus(row["status"]),
        provider_transaction_id=row["provider_transaction_id"],
        error_code=row["error_code"],
        failure_reason=None if reason is None else FailureReason(reason),
        submit_count=row["submit_count"],
        poll_count=row["poll_count"],
        original_reference=row["original_reference"],
        provider_charges_minor=row["provider_charges_minor"],
    )


def event_to_row(event: PaymentEvent) -> dict[str, Any]:
    """A payment_events row."""
    return {
        "payment_id": event.payment_id,
        "seq": event.seq,
        "type": event.type,
        "data": dict(event.data),
        "actor": event.actor,
        "at": event.at,
    }


def event_from_row(row: Row) -> PaymentEvent:
    """A PaymentEvent from its payment_events row."""
    return PaymentEvent(
        payment_id=row["payment_id"],
        seq=row["seq"],
        type=row["type"],
        at=row["at"],
        actor=row["actor"],
        data=dict(row["data"]),
    )


def payment_from_row(
    row: Row, attempts: Sequence[Attempt], events: Sequence[PaymentEvent]
) -> Payment:
    """A Payment from its payments row plus its attempts and audit trail (both in order)."""
    payee_msisdn = row["payee_msisdn"]
    payment = Payment(
        id=row["id"],
        merchant_id=row["merchant_id"],
        amount=Money(int(row["amount_minor"]), row["currency"]),
        payer=Msisdn(row["payer"]),
        wallets=tuple(wallet_from_doc(w) for w in row["wallets"]),
        payee=Payee(
            msisdn=None if payee_msisdn is None else Msisdn(payee_msisdn),
            merchant_account=row["payee_account"],
        ),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        description=row["description"],
        reference=row["reference"],
        metadata=dict(row["metadata"]),
        webhook_url=row["webhook_url"],
        kind=PaymentKind(row["kind"]),
        idempotency_key=row["idempotency_key"],
        fingerprint=row["fingerprint"],
        state=PaymentState(row["state"]),
        version=row["version"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        route=tuple(wallet_from_doc(w) for w in row["route"]),
        routing=row["routing"],
        risk=row["risk"],
        fee_quote=row["fee_quote"],
        fee_minor=int(row["fee_minor"]),
        flagged_for_review=bool(row["flagged_for_review"]),
        refunded_minor=int(row["refunded_minor"]),
        next_action_at=row["next_action_at"],
        attempts=list(attempts),
        events=list(events),
        new_events=[],
    )
    remember_posted(payment)  # a later save sends only the entries this state did not imply
    return payment


def outbox_row(payment: Payment, event: PaymentEvent) -> dict[str, Any]:
    """The outbox row announcing one new event."""
    return {
        "id": outbox_id(event.payment_id, event.seq),
        "payment_id": event.payment_id,
        "event_seq": event.seq,
        "type": event.type,
        "payload": event_payload(payment, event),
        "created_at": event.at,
        "published_at": None,
    }
