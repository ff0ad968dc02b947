"""Domain objects -> what the console's templates show (strings, already formatted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from synccash.core.payment import Payment, PaymentEvent


def _at(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z" if value is not None else ""


def summary(payment: Payment) -> dict[str, Any]:
    """One row of the payments table / the head of a timeline."""
    provider = payment.provider
    return {
        "id": payment.id,
        "merchant": payment.merchant_id,
        "state": payment.state.value,
        "amount": payment.amount.to_decimal_string(),
        "currency": payment.amount.currency,
        "provider": provider.value if provider is not None else "",
        "payer": payment.payer.masked,
        "reference": payment.reference or "",
        "failure": " ".join(x for x in (payment.failure_code, payment.failure_reason) if x),
        "created_at": _at(payment.created_at),
        "updated_at": _at(payment.updated_at),
        "flagged": payment.flagged_for_review,
    }


def attempt_rows(payment: Payment) -> list[dict[str, Any]]:
    """Every provider attempt, in order."""
    return [
        {
            "seq": a.seq,
            "kind": a.kind.value,
            "provider": a.provider.value,
            "status": a.status.value,
            "reference": a.reference,
            "amount": a.amount.to_decimal_string(),
            "error": " ".join(
                x for x in (a.error_code, a.failure_reason.value if a.failure_reason else None) if x
            ),
            "submits": a.submit_count,
            "polls": a.poll_count,
            "updated_at": _at(a.updated_at),
        }
        for a in payment.attempts
    ]


def event_rows(events: Sequence[PaymentEvent]) -> list[dict[str, Any]]:
    """The audit trail, oldest first, with each event's data as key=value pairs."""
    return [
        {
            "seq": e.seq,
            "at": _at(e.at),
            "type": e.type,
            "actor": e.actor,
            "data": ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "")),
        }
        for e in events
    ]


def routing_view(routing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The routing explanation: the chosen wallet, every candidate, every rejection and why."""
    if not routing:
        return {"chosen": None, "candidates": [], "rejected": [], "rest": {}}
    candidates = [
        {
            "provider": c.get("provider", ""),
            "msisdn": c.get("msisdn", ""),
            "score": c.get("score", ""),
            "success": c.get("success_probability", ""),
            "detail": ", ".join(
                f"{k}={v}"
                for k, v in c.items()
                if k not in {"provider", "msisdn", "score", "success_probability"}
            ),
        }
        for c in routing.get("candidates") or []
        if isinstance(c, Mapping)
    ]
    rejected = [
        {
            "provider": r.get("provider", ""),
            "msisdn": r.get("msisdn", ""),
            "code": r.get("code", ""),
            "message": r.get("message", ""),
        }
        for r in routing.get("rejected") or []
        if isinstance(r, Mapping)
    ]
    rest = {k: v for k, v in routing.items() if k not in {"chosen", "candidates", "rejected"}}
    return {
        "chosen": routing.get("chosen"),
        "candidates": candidates,
        "rejected": rejected,
        "rest": rest,
    }
