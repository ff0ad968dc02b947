"""SqlRiskOperations on SQLite and PostgreSQL: decisions once, blocklist changes, audit rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from synccash.adapters.risk_ops import BlockEntry, Review, ReviewDecision
from synccash.adapters.sql import SqlRiskOperations

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def ops_engine(request: pytest.FixtureRequest):
    """An emptied engine of each SQL dialect."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


async def test_blocklist_changes_write_audit_rows(ops_engine):
    """add -> True, add again -> False, remove -> True, remove again -> False; two audit rows."""
    ops = SqlRiskOperations(ops_engine)
    entry = BlockEntry("233241234567", "mule")
    results = (
        await ops.block(entry, "ana", AT),
        await ops.block(entry, "ana", AT),
        [e.entry for e in await ops.blocklist()],
        await ops.unblock(entry.entry, "bo", AT),
        await ops.unblock(entry.entry, "bo", AT),
    )
    assert results == (True, False, ["233241234567"], True, False)
    audit = await ops.audit(10)
    assert {("blocklist.add", "ana", "mule"), ("blocklist.remove", "bo", "mule")} == {
        (e.action, e.actor, e.detail["reason"]) for e in audit
    }


async def test_a_payment_is_decided_once(ops_engine):
    """The second decision on one payment is refused; the first is read back as written."""
    ops = SqlRiskOperations(ops_engine)
    first = Review("p-1", "shop", ReviewDecision.APPROVED, "ana", AT, "ok")
    second = Review("p-1", "shop", ReviewDecision.DECLINED, "bo", AT, "")
    assert (True, False, first) == (
        await ops.decide(first),
        await ops.decide(second),
        await ops.review("p-1"),
    )
    assert [(e.action, e.subject) for e in await ops.audit(10)] == [("review.approved", "p-1")]


async def test_risk_audit_is_append_only_on_postgres(pg_engine):
    """PostgreSQL refuses UPDATE and DELETE on risk_audit (trigger), as on payment_events."""
    ops = SqlRiskOperations(pg_engine)
    await ops.block(BlockEntry("233241234567", "mule"), "ana", AT)
    for statement in ("UPDATE risk_audit SET actor = 'mallory'", "DELETE FROM risk_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with pg_engine.begin() as conn:
                await conn.execute(text(statement))
