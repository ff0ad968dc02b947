"""RiskOperations on SQL: risk_reviews, blocklist and risk_audit, each change with its audit row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from synccash.adapters.risk_ops import (
    AuditEntry,
    BlockEntry,
    FlaggedPayment,
    Review,
    ReviewDecision,
    decision_audit,
)
from synccash.adapters.sql._tables import blocklist, payments, risk_audit, risk_reviews


async def _write_audit(conn: AsyncConnection, entry: AuditEntry) -> None:
    await conn.execute(
        risk_audit.insert().values(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            detail=dict(entry.detail),
        )
    )


class SqlRiskOperations:
    """The review queue, decisions, blocklist and audit on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open_reviews(self, merchant_id: str | None, limit: int) -> Sequence[FlaggedPayment]:
        """Flagged payments without a decision, oldest first."""
        decided = select(risk_reviews.c.payment_id)
        query = (
            select(payments.c.id, payments.c.merchant_id)
            .where(payments.c.flagged_for_review.is_(True), payments.c.id.not_in(decided))
            .order_by(payments.c.created_at, payments.c.id)
            .limit(limit)
        )
        if merchant_id is not None:
            query = query.where(payments.c.merchant_id == merchant_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [FlaggedPayment(row.id, row.merchant_id) for row in rows]

    async def flagged(self, payment_id: str) -> FlaggedPayment | None:
        """The payment if it was flagged for review."""
        query = select(payments.c.id, payments.c.merchant_id).where(
            payments.c.id == payment_id, payments.c.flagged_for_review.is_(True)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else FlaggedPayment(row.id, row.merchant_id)

    async def review(self, payment_id: str) -> Review | None:
        """The decision on a payment, if any."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(risk_reviews).where(risk_reviews.c.payment_id == payment_id)
                )
            ).first()
        if row is None:
            return None
        return Review(
            payment_id=row.payment_id,
            merchant_id=row.merchant_id,
            decision=ReviewDecision(row.decision),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
        )

    async def decide(self, review: Review) -> bool:
        """Record a decision and its audit row; False when the payment already has one."""
        async with self._engine.begin() as conn:
            if await self._exists(conn, risk_reviews.c.payment_id, review.payment_id):
                return False
            await conn.execute(
                risk_reviews.insert().values(
                    payment_id=review.payment_id,
                    merchant_id=review.merchant_id,
                    decision=review.decision.value,
                    decided_by=review.decided_by,
                    decided_at=review.decided_at,
                    note=review.note,
                )
            )
            await _write_audit(conn, decision_audit(review))
        return True

    async def blocklist(self) -> Sequence[BlockEntry]:
        """Every entry, sorted."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(blocklist).order_by(blocklist.c.msisdn))).all()
        return [BlockEntry(row.msisdn, row.reason) for row in rows]

    async def block(self, entry: BlockEntry, actor: str, at: datetime) -> bool:
        """Add an entry and its audit row; False when present."""
        async with self._engine.begin() as conn:
            if await self._exists(conn, blocklist.c.msisdn, entry.entry):
                return False
            await conn.execute(blocklist.insert().values(msisdn=entry.entry, reason=entry.reason))
            await _write_audit(
                conn, AuditEntry.new(at, actor, "blocklist.add", entry.entry, reason=entry.reason)
            )
        return True

    async def unblock(self, entry: str, actor: str, at: datetime) -> bool:
        """Remove an entry and write its audit row; False when absent."""
        async with self._engine.begin() as conn:
            removed = (
                await conn.execute(
                    delete(blocklist)
                    .where(blocklist.c.msisdn == entry)
                    .returning(blocklist.c.reason)
                )
            ).first()
            if removed is None:
                return False
            await _write_audit(
                conn, AuditEntry.new(at, actor, "blocklist.remove", entry, reason=removed.reason)
            )
        return True

    async def audit(self, limit: int) -> Sequence[AuditEntry]:
        """Newest first."""
        query = select(risk_audit).order_by(risk_audit.c.at.desc(), risk_audit.c.id).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(row.id, row.at, row.actor, row.action, row.subject, dict(row.detail))
            for row in rows
        ]

    @staticmethod
    async def _exists(conn: AsyncConnection, column: Any, value: str) -> bool:
        found = await conn.execute(select(column).where(column == value))
        return found.first() is not None


__all__ = ["SqlRiskOperations"]
