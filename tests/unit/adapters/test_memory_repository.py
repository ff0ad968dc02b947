"""In-memory repository specifics: private copies, interleaved units of work, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synccash.adapters.memory.repository import (
    InMemoryOutbox,
    InMemoryRiskContext,
    InMemoryStore,
    InMemoryUnitOfWorkFactory,
    outbox_id,
)
from synccash.core.errors import ConcurrencyConflict
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Payment, PaymentState, Wallet
from synccash.core.providers import ProviderId

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")


def _payment(pid: str, *, key: str | None = None, at: datetime = T0) -> Payment:
    return Payment.initiate(
        payment_id=pid,
        merchant_id="m1",
        amount=Money(1000),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(merchant_account="shop"),
        now=at,
        expires_at=at + timedelta(minutes=15),
        idempotency_key=key,
    )


@pytest.fixture
def uow():
    """A unit-of-work factory over a fresh store."""
    return InMemoryUnitOfWorkFactory()


async def test_loaded_payments_are_private_copies(uow):
    """Changing a loaded payment without saving changes nothing stored."""
    async with uow() as tx:
        await tx.payments.add(_payment("p1"))
        await tx.commit()
    async with uow() as tx:
        loaded = await tx.payments.get("p1")
        loaded.cancel(T0)

    async with uow() as tx:
        assert (await tx.payments.get("p1")).state is PaymentState.INITIATED


async def test_adding_after_commit_does_not_leak_later_changes(uow):
    """The store keeps what was committed, not the caller's live object."""
    payment = _payment("p1")
    async with uow() as tx:
        await tx.payments.add(payment)
        await tx.commit()
    payment.cancel(T0)

    async with uow() as tx:
        assert (await tx.payments.get("p1")).state is PaymentState.INITIATED


async def test_interleaved_adds_with_one_key_conflict_at_commit(uow):
    """Two open units adding the same key: the second commit fails and stores nothing."""
    first, second = uow(), uow()
    async with first, second:
        await first.payments.add(_payment("p1", key="k"))
        await second.payments.add(_payment("p2", key="k"))
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await second.commit()

    async with uow() as tx:
        assert (await tx.payments.get_by_idempotency_key("m1", "k")).id == "p1"
        assert await tx.payments.get("p2") is None


async def test_interleaved_saves_conflict_at_commit(uow):
    """Two open units saving one payment: the later commit fails, the earlier one stays."""
    async with uow() as tx:
        await tx.payments.add(_payment("p1"))
        await tx.commit()
    first, second = uow(), uow()
    async with first, second:
        mine = await first.payments.get("p1")
        theirs = await second.payments.get("p1")
        mine.transition(PaymentState.VALIDATING, T0, actor="a", reason="a")
        theirs.cancel(T0)
        await first.payments.save(mine)
        await second.payments.save(theirs)
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await second.commit()

    assert theirs.version == 0
    async with uow() as tx:
        assert (await tx.payments.get("p1")).state is PaymentState.VALIDATING


async def test_outbox_ids_are_deterministic_and_publishing_is_idempotent():
    """Outbox rows carry the shared deterministic id; marking twice keeps the first time."""
    store = InMemoryStore()
    factory = InMemoryUnitOfWorkFactory(store)
    async with factory() as tx:
        await tx.payments.add(_payment("p1"))
        await tx.commit()
    outbox = InMemoryOutbox(store)

    (row,) = await outbox.fetch_unpublished(10)
    await outbox.mark_published([row.id, "unknown"], T0)
    await outbox.mark_published([row.id], T0 + timedelta(hours=1))

    assert row.id == outbox_id("p1", 1)
    assert store.published == {row.id: T0}
    assert await outbox.fetch_unpublished(10) == []


async def test_risk_context_reads_committed_payments_only(uow):
    """Staged payments do not count towards velocity until committed."""
    risk = InMemoryRiskContext(uow.store)
    tx = uow()
    async with tx:
        await tx.payments.add(_payment("p1", at=T0 - timedelta(minutes=1)))
        before = await risk.signals(
            payer=PAYER, payee_key="acct:shop", amount=Money(1), at=T0, exclude_payment_id="x"
        )
        await tx.commit()
    after = await risk.signals(
        payer=PAYER, payee_key="acct:shop", amount=Money(1), at=T0, exclude_payment_id="x"
    )

    assert (before.payer_count_1h, after.payer_count_1h) == (0, 1)
