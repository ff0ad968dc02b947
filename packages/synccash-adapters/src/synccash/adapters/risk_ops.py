"""Fraud operations: the review queue, reviewers' decisions, the blocklist, and their audit.

The fraud rules (synccash.core.fraud) flag a payment for review or block it; this is
what a risk team does next. Every change (a decision, a blocklist entry added or
removed) writes an audit entry in the same transaction as the change.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from attrs import define, field, frozen

from synccash.adapters.memory.repository import InMemoryStore


class ReviewDecision(enum.StrEnum):
    """What a reviewer decided about a flagged payment."""

    APPROVED = "approved"
    DECLINED = "declined"


@frozen
class Review:
    """One decision on one flagged payment."""

    payment_id: str
    merchant_id: str
    decision: ReviewDecision
    decided_by: str
    decided_at: datetime
    note: str = ""


@frozen
class FlaggedPayment:
    """A payment waiting for a decision."""

    payment_id: str
    merchant_id: str


@frozen
class BlockEntry:
    """An MSISDN (233…) or payee key (acct:…) the blocklist rule refuses."""

    entry: str
    reason: str


@frozen
class AuditEntry:
    """Who changed the risk set-up, when, and how."""

    id: str
    at: datetime
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any] = field(factory=dict)

    @classmethod
    def new(cls, at: datetime, actor: str, action: str, subject: str, **detail: Any) -> AuditEntry:
        """An entry with a fresh id."""
        return cls(str(uuid.uuid4()), at, actor, action, subject, detail)


class RiskOperations(Protocol):
    """The review queue, decisions, blocklist and audit trail."""

    async def open_reviews(self, merchant_id: str | None, limit: int) -> Sequence[FlaggedPayment]:
        """Flagged payments without a decision, oldest first (all merchants when None)."""
        ...

    async def flagged(self, payment_id: str) -> FlaggedPayment | None:
        """The payment if the fraud rules flagged it for review (decided or not)."""
        ...

    async def review(self, payment_id: str) -> Review | None:
        """The decision on a payment, if any."""
        ...

    async def decide(self, review: Review) -> bool:
        """Record a decision (audited); False when the payment already has one."""
        ...

    async def blocklist(self) -> Sequence[BlockEntry]:
        """Every entry, sorted."""
        ...

    async def block(self, entry: BlockEntry, actor: str, at: datetime) -> bool:
        """Add an entry (audited); False when it is already there."""
        ...

    async def unblock(self, entry: str, actor: str, at: datetime) -> bool:
        """Remove an entry (audited); False when it was not there."""
        ...

    async def audit(self, limit: int) -> Sequence[AuditEntry]:
        """The newest audit entries first."""
        ...


def decision_audit(review: Review) -> AuditEntry:
    """The audit entry of a review decision."""
    return AuditEntry.new(
        review.decided_at,
        review.decided_by,
        f"review.{review.decision.value}",
        review.payment_id,
        merchant_id=review.merchant_id,
        note=review.note,
    )


@define
class InMemoryRiskOperations:
    """RiskOperations over the in-memory store (its payments and blocklist)."""

    store: InMemoryStore
    reviews: dict[str, Review] = field(factory=dict)
    entries: list[AuditEntry] = field(factory=list)

    async def open_reviews(self, merchant_id: str | None, limit: int) -> Sequence[FlaggedPayment]:
        """Flagged payments without a decision, oldest first."""
        flagged = sorted(
            (row.payment for row in self.store.rows.values()),
            key=lambda p: (p.created_at, p.id),
        )
        return [
            FlaggedPayment(p.id, p.merchant_id)
            for p in flagged
            if p.flagged_for_review
            and p.id not in self.reviews
            and merchant_id in (None, p.merchant_id)
        ][:limit]

    async def flagged(self, payment_id: str) -> FlaggedPayment | None:
        """The payment if it was flagged for review."""
        row = self.store.rows.get(payment_id)
        if row is None or not row.payment.flagged_for_review:
            return None
        return FlaggedPayment(payment_id, row.payment.merchant_id)

    async def review(self, payment_id: str) -> Review | None:
        """The decision on a payment, if any."""
        return self.reviews.get(payment_id)

    async def decide(self, review: Review) -> bool:
        """Record a decision; False when one exists."""
        if review.payment_id in self.reviews:
            return False
        self.reviews[review.payment_id] = review
        self.entries.append(decision_audit(review))
        return True

    async def blocklist(self) -> Sequence[BlockEntry]:
        """Every entry, sorted."""
        return [BlockEntry(k, v) for k, v in sorted(self.store.blocklist.items())]

    async def block(self, entry: BlockEntry, actor: str, at: datetime) -> bool:
        """Add an entry; False when present."""
        if entry.entry in self.store.blocklist:
            return False
        self.store.blocklist[entry.entry] = entry.reason
        self.entries.append(
            AuditEntry.new(at, actor, "blocklist.add", entry.entry, reason=entry.reason)
        )
        return True

    async def unblock(self, entry: str, actor: str, at: datetime) -> bool:
        """Remove an entry; False when absent."""
        reason = self.store.blocklist.pop(entry, None)
        if reason is None:
            return False
        self.entries.append(AuditEntry.new(at, actor, "blocklist.remove", entry, reason=reason))
        return True

    async def audit(self, limit: int) -> Sequence[AuditEntry]:
        """Newest first."""
        return list(reversed(self.entries))[:limit]


__all__ = [
    "AuditEntry",
    "BlockEntry",
    "FlaggedPayment",
    "InMemoryRiskOperations",
    "Review",
    "ReviewDecision",
    "RiskOperations",
    "decision_audit",
]
