"""The in-memory books: postings commit with the payment, guarded accounts never go below 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synccash.adapters.memory.ledger import InMemoryLedger
from synccash.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWorkFactory
from synccash.core.errors import InsufficientBalance
from synccash.core.ledger import (
    JournalEntry,
    PostingKind,
    collection_wallet,
    entry,
    merchant_available,
    merchant_reserved,
    topup_entry,
)
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Payment, PaymentKind, Wallet
from synccash.core.ports import EntryQuery
from synccash.core.providers import ProviderId

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")


def _payout(pid: str, minor: int) -> Payment:
    return Payment.initiate(
        payment_id=pid,
        merchant_id="m1",
        amount=Money(minor),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(msisdn=PAYER),
        now=T0,
        expires_at=T0 + timedelta(minutes=15),
        kind=PaymentKind.PAYOUT,
    )


async def test_a_payout_beyond_the_balance_is_refused_and_writes_nothing() -> None:
    """InsufficientBalance at commit; neither the payment nor a posting is stored."""
    store = InMemoryStore()
    uow, ledger = InMemoryUnitOfWorkFactory(store), InMemoryLedger(store.books)
    async with uow() as tx:
        await tx.payments.add(_payout("p1", 500))
        with pytest.raises(InsufficientBalance):
            await tx.commit()
    assert store.rows == {}
    assert Money(0) == await ledger.balance(merchant_available("m1"))
    assert list((await ledger.entries(EntryQuery())).items) == []


async def test_a_covered_payout_reserves_the_amount() -> None:
    """With enough balance the payout's reservation is posted in the same commit."""
    store = InMemoryStore()
    uow, ledger = InMemoryUnitOfWorkFactory(store), InMemoryLedger(store.books)
    # the merchant's balance, as a collection would leave it
    await ledger.post([_credit("m1", 800)], T0)
    async with uow() as tx:
        await tx.payments.add(_payout("p1", 500))
        await tx.commit()
    assert Money(300) == await ledger.balance(merchant_available("m1"))
    assert Money(500) == await ledger.balance(merchant_reserved("m1"))


async def test_posting_twice_posts_once() -> None:
    """Entries are idempotent per key."""
    ledger = InMemoryLedger(InMemoryStore().books)
    topup = topup_entry("t1", ProviderId.MTN, Money(900))
    await ledger.post([topup], T0)
    await ledger.post([topup], T0)
    assert len((await ledger.entries(EntryQuery())).items) == 1


def _credit(merchant: str, minor: int) -> JournalEntry:
    return entry(
        "seed",
        PostingKind.COLLECT,
        [(collection_wallet(ProviderId.MTN), minor), (merchant_available(merchant), -minor)],
        currency="GHS",
    )
