"""`verify_books`: what the stored books must equal, and each way they can differ."""

from datetime import UTC, datetime, timedelta

from synccash.core.ledger import collection_wallet, entries_for, merchant_available
from synccash.core.ledger_verify import ProviderMovement, StoredPosting, verify_books
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind, AttemptStatus, Payee, Payment, Wallet
from synccash.core.providers import ProviderId

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")
MTN = ProviderId.MTN


def _confirmed() -> Payment:
    payment = Payment.initiate(
        payment_id="p1",
        merchant_id="m1",
        amount=Money(1000),
        payer=PAYER,
        wallets=(Wallet(MTN, PAYER),),
        payee=Payee(merchant_account="m1"),
        now=T0,
        expires_at=T0 + timedelta(hours=1),
    )
    attempt = payment.add_attempt(
        reference="c-1",
        provider=MTN,
        kind=AttemptKind.COLLECT,
        msisdn=PAYER,
        amount=Money(1000),
        at=T0,
    )
    payment.update_attempt(attempt, AttemptStatus.SUCCEEDED, ProviderOutcome.succeeded(), T0)
    return payment


def _stored(payment: Payment) -> list[StoredPosting]:
    return [
        StoredPosting(
            e.reference, e.kind.value, i, p.account, p.amount.currency, p.amount.minor, payment.id
        )
        for e in entries_for(payment)
        for i, p in enumerate(e.postings, 1)
    ]


BALANCES = {(merchant_available("m1"), "GHS"): 1000}
DEBIT = ProviderMovement("mtn", "debit", 1000, "c1")  # Telecel-style: the dashes dropped


def test_books_that_match_have_no_differences() -> None:
    """Postings as implied, balances as summed, one provider movement per cash entry."""
    payment = _confirmed()
    assert verify_books(_stored(payment), BALANCES, [payment], [DEBIT]) == []


def test_a_missing_entry_and_a_wrong_balance_are_listed() -> None:
    """No postings for a confirmed payment, and a stored balance they do not explain."""
    payment = _confirmed()
    assert [
        f"balance {merchant_available('m1')} GHS: stored 1000, postings say 0",
        "payment p1 INITIATED: entry c-1 collect is missing",
    ] == verify_books([], BALANCES, [payment])


def test_an_unbalanced_stored_entry_is_listed() -> None:
    """A stored entry whose postings do not sum to zero."""
    payment = _confirmed()
    stored = _stored(payment)
    stored[0] = StoredPosting("c-1", "collect", 1, collection_wallet(MTN), "GHS", 999, "p1")
    found = verify_books(stored, BALANCES, [payment])
    assert "entry c-1 collect: sums to -1 GHS, not 0" in found
    assert "all postings sum to -1 GHS, not 0" in found


def test_provider_movements_match_postings_one_to_one() -> None:
    """A debit nobody posted, and a posted collection the provider never booked."""
    payment = _confirmed()
    stray = ProviderMovement("mtn", "debit", 500, "other")
    assert verify_books(_stored(payment), BALANCES, [payment], [stray]) == [
        "provider movement mtn debit 500 other: no matching posting",
        "entry c-1 collect (mtn 1000): no provider movement",
    ]


def test_a_movement_matched_twice_is_listed() -> None:
    """Two debits for one collection: a double debit."""
    payment = _confirmed()
    found = verify_books(_stored(payment), BALANCES, [payment], [DEBIT, DEBIT])
    assert found == ["provider movement mtn debit 1000 c1: entry c-1 matched twice"]
