"""The ledger's contract on memory, SQLite and PostgreSQL: postings with each save, the
database's own refusals (unbalanced entries, changed postings, overdrafts)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from payments_factory import PAYEE, T0, fund_merchant, make_payment, with_collect_attempt
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from synccash.core.errors import ConcurrencyConflict, InsufficientBalance
from synccash.core.ledger import (
    collection_wallet,
    merchant_available,
    merchant_reserved,
    topup_entry,
)
from synccash.core.money import Money
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind, AttemptStatus, Payee, PaymentKind
from synccash.core.ports import EntryQuery
from synccash.core.providers import ProviderId

pytestmark = pytest.mark.integration

MTN = ProviderId.MTN
AVAILABLE = merchant_available("m1")


async def _add(backend, payment) -> None:
    async with backend.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()


async def _change(backend, pid: str, change) -> None:
    async with backend.uow() as uow:
        loaded = await uow.payments.load(pid)
        change(loaded)
        await uow.payments.save(loaded)
        await uow.commit()


def _succeed(payment) -> None:
    attempt = payment.attempts[0]
    payment.update_attempt(attempt, AttemptStatus.SUCCEEDED, ProviderOutcome.succeeded(), T0)


async def _confirmed_collection(backend, pid: str, minor: int = 1250) -> None:
    """Store a collection, then confirm its attempt in a second save (as the worker does)."""
    payment = make_payment(pid, minor=minor, payee=Payee(merchant_account="m1"))
    with_collect_attempt(payment, f"ref-{pid}", T0)
    await _add(backend, payment)
    await _change(backend, pid, _succeed)


async def _entry_keys(ledger) -> list[tuple[str, str]]:
    page = await ledger.entries(EntryQuery(limit=500))
    return [s.entry.key for s in page.items]


async def test_a_confirmed_collection_credits_the_merchant_once(backend):
    """The save that confirms posts the collection; saving again posts nothing more."""
    await _confirmed_collection(backend, "p1")
    await _change(backend, "p1", lambda p: p.record("note", T0, "t"))

    assert Money(1250) == await backend.ledger.balance(AVAILABLE)
    assert Money(1250) == await backend.ledger.balance(collection_wallet(MTN))
    assert await _entry_keys(backend.ledger) == [("ref-p1", "collect")]


async def test_a_payout_the_balance_cannot_cover_is_refused_and_stores_nothing(backend):
    """InsufficientBalance; neither the payout nor a posting is stored."""
    await fund_merchant(backend.ledger, "m1", 999)
    payout = make_payment("p1", minor=1000, payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT)
    with pytest.raises(InsufficientBalance):
        await _add(backend, payout)

    async with backend.uow() as uow:
        assert await uow.payments.get("p1") is None
    assert Money(999) == await backend.ledger.balance(AVAILABLE)
    assert Money(0) == await backend.ledger.balance(merchant_reserved("m1"))


async def test_racing_payouts_never_overdraw(backend):
    """Ten concurrent payouts against a balance for four: exactly four are reserved."""
    await fund_merchant(backend.ledger, "m1", 4_000)

    async def payout(i: int) -> str:
        payment = make_payment(
            f"p{i}", minor=1000, payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT
        )
        try:
            await _add(backend, payment)
        except InsufficientBalance:
            return "refused"
        return "reserved"

    outcomes = await asyncio.gather(*(payout(i) for i in range(10)))

    assert (outcomes.count("reserved"), outcomes.count("refused")) == (4, 6)
    assert Money(0) == await backend.ledger.balance(AVAILABLE)
    assert Money(4_000) == await backend.ledger.balance(merchant_reserved("m1"))


async def test_a_failed_payout_releases_its_reservation(backend):
    """Cancelled before anything reached a provider: the reservation goes back."""
    await fund_merchant(backend.ledger, "m1", 1000)
    payout = make_payment("p1", minor=1000, payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT)
    await _add(backend, payout)
    await _change(backend, "p1", lambda p: p.cancel(T0 + timedelta(seconds=1)))

    assert Money(1000) == await backend.ledger.balance(AVAILABLE)
    assert Money(0) == await backend.ledger.balance(merchant_reserved("m1"))


async def test_a_refused_save_leaves_the_payment_as_stored(backend):
    """A refund the merchant's balance no longer covers is refused; the payment is unchanged."""
    await _confirmed_collection(backend, "p1")
    payout = make_payment("p2", minor=1250, payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT)
    await _add(backend, payout)  # spends the whole available balance

    def refund(loaded) -> None:
        paid = loaded.attempts[0]
        loaded.add_attempt(
            reference="refund-1",
            provider=MTN,
            kind=AttemptKind.REFUND,
            msisdn=paid.msisdn,
            amount=Money(100),
            at=T0,
            original_reference=paid.reference,
        )

    with pytest.raises(InsufficientBalance):
        await _change(backend, "p1", refund)

    async with backend.uow() as uow:
        stored = await uow.payments.get("p1")
    assert len(stored.attempts) == 1


async def test_posting_is_idempotent_per_key(backend):
    """The same top-up posted twice is one entry."""
    topup = topup_entry("t1", MTN, Money(5000))
    await backend.ledger.post([topup], T0)
    await backend.ledger.post([topup], T0)

    assert await _entry_keys(backend.ledger) == [("t1", "topup")]


async def test_entries_page_by_account(backend):
    """Statements: only entries touching the account, in order, in pages."""
    for i in range(3):
        await _confirmed_collection(backend, f"p{i}")
    await backend.ledger.post([topup_entry("t1", MTN, Money(5000))], T0)

    first = await backend.ledger.entries(EntryQuery(accounts=(AVAILABLE,), limit=2))
    second = await backend.ledger.entries(
        EntryQuery(accounts=(AVAILABLE,), limit=2, cursor=first.next_cursor)
    )

    assert [s.entry.reference for s in first.items] == ["ref-p0", "ref-p1"]
    assert ([s.entry.reference for s in second.items], second.next_cursor) == (["ref-p2"], None)


async def test_a_duplicate_add_is_still_a_conflict(backend):
    """The ledger does not hide a duplicate payment (same idempotency key)."""
    await fund_merchant(backend.ledger, "m1", 10_000)
    first = make_payment("p1", key="k", payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT)
    second = make_payment("p2", key="k", payee=Payee(msisdn=PAYEE), kind=PaymentKind.PAYOUT)
    await _add(backend, first)
    with pytest.raises(ConcurrencyConflict):
        await _add(backend, second)

    assert Money(1250) == await backend.ledger.balance(merchant_reserved("m1"))


# --- the database itself, written to with raw SQL --------------------------------------
def _sql_engine(request, name: str):
    return request.getfixturevalue("pg_engine" if name == "postgres" else "sqlite_engine")


_POSTING = "INSERT INTO ledger_postings VALUES (:r, 'topup', :seq, :account, 'GHS', :minor)"
_ENTRY = "INSERT INTO ledger_entries (reference, kind, created_at) VALUES (:r, 'topup', :at)"


def _raw_entry(reference: str, lines: list[tuple[str, int]]) -> list[tuple[str, dict]]:
    """An entry as raw SQL, postings first (SQLite's entry row closes it)."""
    postings = [
        (_POSTING, {"r": reference, "seq": i, "account": a, "minor": m})
        for i, (a, m) in enumerate(lines, 1)
    ]
    return [*postings, (_ENTRY, {"r": reference, "at": T0})]


async def _run(engine, statements: list[tuple[str, dict]]) -> None:
    async with engine.begin() as conn:
        for statement, params in statements:
            await conn.execute(text(statement), params)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    """Each SQL database in turn."""
    return _sql_engine(request, request.param)


async def test_the_database_refuses_an_unbalanced_entry(engine):
    """Raw SQL: postings that do not sum to zero never commit."""
    with pytest.raises(DBAPIError, match="ledger_unbalanced"):
        await _run(engine, _raw_entry("raw-1", [("provider:mtn:world", -500), ("x:y", 499)]))


async def test_the_database_refuses_an_overdraft(engine):
    """Raw SQL: a merchant's available balance cannot go below zero."""
    with pytest.raises(DBAPIError, match="ledger_overdraft"):
        await _run(engine, _raw_entry("raw-1", [(AVAILABLE, 500), ("provider:mtn:world", -500)]))


async def test_the_database_accepts_a_balanced_entry_and_keeps_it(engine):
    """Raw SQL: a balanced entry is stored; its postings can be neither changed nor deleted."""
    await _run(
        engine, _raw_entry("raw-1", [("provider:mtn:float", 700), ("provider:mtn:world", -700)])
    )
    refused = [
        "UPDATE ledger_postings SET amount_minor = 1 WHERE reference = 'raw-1'",
        "DELETE FROM ledger_postings WHERE reference = 'raw-1'",
        "DELETE FROM ledger_entries WHERE reference = 'raw-1'",
    ]
    if engine.dialect.name == "postgresql":  # SQLite: `ledger verify` checks the balances
        refused.append("UPDATE ledger_balances SET balance_minor = 10")
    for statement in refused:
        with pytest.raises(DBAPIError, match=r"append-only|ledger"):
            await _run(engine, [(statement, {})])
    async with engine.connect() as conn:
        balance = await conn.scalar(text("SELECT balance_minor FROM ledger_balances"))
    assert balance == 700


async def test_the_database_refuses_a_posting_added_to_a_stored_entry(engine):
    """Raw SQL: a stored entry cannot be unbalanced afterwards by adding a posting."""
    await _run(
        engine, _raw_entry("raw-1", [("provider:mtn:float", 700), ("provider:mtn:world", -700)])
    )
    late = (_POSTING, {"r": "raw-1", "seq": 3, "account": "x", "minor": 5})
    with pytest.raises(DBAPIError, match="ledger_"):
        await _run(engine, [late])
