"""SqlOutbox.claim on both databases: same rows, same order, marked only on a clean exit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql import SqlOutbox
from synccash.adapters.sql._outbox import JsonPayload
from synccash.adapters.sql._tables import outbox

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["pg_engine", "sqlite_engine"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Each database in turn."""
    return request.getfixturevalue(request.param)


async def _rows(engine: AsyncEngine, count: int) -> None:
    """`count` unpublished rows; two share each created_at (payment and seq break the tie)."""
    rows = [
        {
            "id": f"evt-{i:03d}",
            "payment_id": f"pay_{(count - i) % 4}",
            "event_seq": i,
            "type": "attempt.updated" if i % 2 else "payment.pending",
            "payload": {"seq": i, "data": {"provider": "mtn", "note": "réessayez"}},
            "created_at": T0 + timedelta(milliseconds=i // 2),
            "published_at": None,
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), rows[::-1])


async def test_a_claim_sees_the_rows_fetch_sees_in_the_same_order(engine: AsyncEngine):
    """Ids, sequence, type, payload (decoded) and created_at as the unlocked read gives them."""
    await _rows(engine, 9)
    store = SqlOutbox(engine)
    expected = await store.fetch_unpublished(6)
    async with store.claim(6) as claim:
        assert list(claim.rows) == list(expected)
    assert expected[0].payload == {
        "seq": expected[0].seq,
        "data": {"provider": "mtn", "note": "réessayez"},
    }
    assert expected[0].created_at.tzinfo is not None


async def test_rows_are_marked_only_when_the_claim_ends_cleanly(engine: AsyncEngine):
    """A failure after the publish (before the commit) leaves the rows to be published again."""
    await _rows(engine, 5)
    store = SqlOutbox(engine)
    first = [r.id for r in await store.fetch_unpublished(3)]
    at = T0 + timedelta(minutes=1)

    async def crash_before_commit() -> None:
        async with store.claim(3) as claim:
            await claim.mark_published([r.id for r in claim.rows], at)
            raise RuntimeError("crash between the XADD and the commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    assert await store.count_unpublished() == 5
    async with store.claim(3) as claim:
        assert [r.id for r in claim.rows] == first  # the same rows again, same ids and order
        await claim.mark_published([r.id for r in claim.rows], at)
    assert await store.count_unpublished() == 2
    async with engine.connect() as conn:
        marked = (await conn.execute(select(outbox.c.id, outbox.c.published_at))).all()
    assert {i: p for i, p in marked if p is not None} == dict.fromkeys(first, at)


async def test_an_idle_claim_is_empty_and_marks_nothing(engine: AsyncEngine):
    """Nothing to publish: no rows, and marking nothing is fine."""
    store = SqlOutbox(engine)
    async with store.claim(10) as claim:
        assert list(claim.rows) == []
        await claim.mark_published([], T0)
    await _rows(engine, 2)
    async with store.claim(10) as claim:
        assert len(claim.rows) == 2
        await claim.mark_published([r.id for r in claim.rows], T0)
    for _ in range(2):  # right after a busy claim (no probe on PostgreSQL), then idle again
        async with store.claim(10) as claim:
            assert list(claim.rows) == []
    assert await store.count_unpublished() == 0


async def test_postgres_claims_carry_the_stored_json_text(pg_engine: AsyncEngine):
    """The claim's payload is the stored JSON text (decoded on use), the same on every claim."""
    await _rows(pg_engine, 1)
    store = SqlOutbox(pg_engine)
    texts = []
    for _ in range(2):
        async with store.claim(1) as claim:
            [row] = claim.rows
            assert isinstance(row.payload, JsonPayload)
            texts.append(row.payload.json_text)
    assert texts[0] == texts[1]
    assert json.loads(texts[0]) == {"seq": 0, "data": {"provider": "mtn", "note": "réessayez"}}
