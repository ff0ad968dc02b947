"""The ledger's rules: balanced entries, the chart of accounts and the posting rules."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synccash.core.errors import DomainError, InvalidAmount
from synccash.core.ledger import (
    FEES_EARNED,
    IN_TRANSIT,
    LEVIES_PAYABLE,
    JournalEntry,
    Posting,
    PostingKind,
    UnbalancedEntry,
    apply,
    balance_of,
    collection_wallet,
    entries_for,
    float_held,
    implied_keys,
    is_guarded,
    merchant_available,
    merchant_reserved,
    new_entries,
    normal_sign,
    overdrawn,
    provider_charges,
    provider_float,
    topup_entry,
    world,
)
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import (
    AttemptKind,
    AttemptStatus,
    Payee,
    Payment,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.providers import ProviderId

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")
PAYEE = Msisdn.parse("0551234567")
MTN = ProviderId.MTN
TELECEL = ProviderId.TELECEL


def _payment(kind: PaymentKind, amount: int = 10_000, pid: str = "p1") -> Payment:
    payee = Payee(merchant_account="m1") if kind is PaymentKind.COLLECTION else Payee(msisdn=PAYEE)
    return Payment.initiate(
        payment_id=pid,
        merchant_id="m1",
        amount=Money(amount),
        payer=PAYER,
        wallets=(Wallet(MTN, PAYER),),
        payee=payee,
        now=T0,
        expires_at=T0 + timedelta(hours=1),
        kind=kind,
    )


def _to_processing(payment: Payment) -> None:
    for state in (PaymentState.VALIDATING, PaymentState.PENDING, PaymentState.PROCESSING):
        payment.transition(state, T0, actor="t", reason="t")


def _attempt(payment: Payment, kind: AttemptKind, ref: str, provider: ProviderId = MTN) -> None:
    payment.add_attempt(
        reference=ref, provider=provider, kind=kind, msisdn=PAYER, amount=payment.amount, at=T0
    )


def _settle(payment: Payment, ref: str, status: AttemptStatus) -> None:
    attempt = payment.attempt_by_reference(ref)
    assert attempt is not None
    outcome = (
        ProviderOutcome.succeeded()
        if status is AttemptStatus.SUCCEEDED
        else ProviderOutcome.unknown("t")
    )
    payment.update_attempt(attempt, status, outcome, T0)


def _sums(payment: Payment) -> dict[str, int]:
    return {a: total for (a, _), total in apply({}, entries_for(payment)).items() if total}


def test_an_entry_must_balance() -> None:
    """Postings that do not sum to zero are refused by the constructor."""
    with pytest.raises(UnbalancedEntry):
        JournalEntry("r", PostingKind.TOPUP, (Posting("a", Money(5)), Posting("b", Money(-4))))


def test_an_entry_has_two_postings_at_least() -> None:
    """A single posting is not double entry."""
    with pytest.raises(UnbalancedEntry):
        JournalEntry("r", PostingKind.TOPUP, (Posting("a", Money(0 + 1)),))


def test_a_posting_is_never_zero() -> None:
    """A zero posting says nothing and is refused."""
    with pytest.raises(InvalidAmount):
        Posting("a", Money(0))


def test_chart_sides_and_guards() -> None:
    """Wallets and floats are debit-normal; merchant available and provider float are guarded."""
    assert [
        normal_sign(a)
        for a in (
            collection_wallet(MTN),
            provider_float(MTN),
            float_held(MTN),
            world(MTN),
            provider_charges(MTN),
            merchant_available("m"),
            FEES_EARNED,
        )
    ] == [1, 1, 1, -1, -1, -1, -1]
    guarded = [
        a
        for a in (
            provider_float(MTN),
            merchant_available("m"),
            merchant_reserved("m"),
            float_held(MTN),
            collection_wallet(MTN),
            IN_TRANSIT,
        )
        if is_guarded(a)
    ]
    assert [provider_float(MTN), merchant_available("m")] == guarded


def test_nothing_is_posted_before_money_moves() -> None:
    """An initiated collection with a pending attempt implies no entry."""
    payment = _payment(PaymentKind.COLLECTION)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.UNKNOWN)
    assert entries_for(payment) == ()


def test_a_confirmed_collection_credits_the_merchant() -> None:
    """The collection wallet holds the amount, owed to the merchant's available balance."""
    payment = _payment(PaymentKind.COLLECTION)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    assert {collection_wallet(MTN): 10_000, merchant_available("m1"): -10_000} == _sums(payment)
    assert [e.key for e in entries_for(payment)] == [("c1", "collect")]
    assert Money(10_000) == balance_of(merchant_available("m1"), -10_000)


def test_the_payers_fee_goes_to_its_accounts() -> None:
    """The fee quote's parts: provider charges, levy and platform fee, against the world."""
    payment = _payment(PaymentKind.COLLECTION)
    payment.fee_minor = 250
    payment.fee_quote = {"provider_fee": "1.50", "levy": "0.75", "platform_fee": "0.25"}
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    assert {
        collection_wallet(MTN): 10_000,
        merchant_available("m1"): -10_000,
        world(MTN): 250,
        provider_charges(MTN): -150,
        LEVIES_PAYABLE: -75,
        FEES_EARNED: -25,
    } == _sums(payment)


def test_a_payout_is_reserved_held_and_posted() -> None:
    """Reserved at acceptance, float held at the attempt, paid out at success."""
    payment = _payment(PaymentKind.PAYOUT)
    assert {merchant_available("m1"): 10_000, merchant_reserved("m1"): -10_000} == _sums(payment)
    _to_processing(payment)
    _attempt(payment, AttemptKind.DISBURSE, "d1", TELECEL)
    _settle(payment, "d1", AttemptStatus.UNKNOWN)
    assert {
        merchant_available("m1"): 10_000,
        merchant_reserved("m1"): -10_000,
        float_held(TELECEL): 10_000,
        provider_float(TELECEL): -10_000,
    } == _sums(payment)
    _settle(payment, "d1", AttemptStatus.SUCCEEDED)
    assert {merchant_available("m1"): 10_000, provider_float(TELECEL): -10_000} == _sums(payment)


def test_a_failed_payout_releases_everything() -> None:
    """A definitive failure gives the float and the merchant's reservation back."""
    payment = _payment(PaymentKind.PAYOUT)
    _to_processing(payment)
    _attempt(payment, AttemptKind.DISBURSE, "d1")
    attempt = payment.attempt_by_reference("d1")
    assert attempt is not None
    payment.update_attempt(attempt, AttemptStatus.FAILED, ProviderOutcome.unknown("x"), T0)
    payment.fail(T0, code="payee_not_found", reason="no such wallet")
    assert _sums(payment) == {}
    kinds = [e.kind for e in entries_for(payment)]
    assert PostingKind.PAYOUT_RELEASE in kinds
    assert PostingKind.DISBURSE_RELEASE in kinds


def test_a_transfer_passes_through_in_transit() -> None:
    """Collected into in transit, disbursed from the payee network's float."""
    payment = _payment(PaymentKind.TRANSFER)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    assert {collection_wallet(MTN): 10_000, IN_TRANSIT: -10_000} == _sums(payment)
    _attempt(payment, AttemptKind.DISBURSE, "d1", TELECEL)
    _settle(payment, "d1", AttemptStatus.SUCCEEDED)
    assert {collection_wallet(MTN): 10_000, provider_float(TELECEL): -10_000} == _sums(payment)


def test_a_transfer_compensation_refund_comes_from_in_transit() -> None:
    """The payee was never credited: the payer's refund empties in transit, not the merchant."""
    payment = _payment(PaymentKind.TRANSFER)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    _attempt(payment, AttemptKind.REFUND, "r1")
    assert {collection_wallet(MTN): 10_000, IN_TRANSIT: -10_000} == _sums(payment)
    _settle(payment, "r1", AttemptStatus.SUCCEEDED)
    assert _sums(payment) == {}


def test_a_refund_is_reserved_from_the_merchant_then_paid() -> None:
    """Requested: reserved out of available; succeeded: paid from the collection wallet."""
    payment = _payment(PaymentKind.COLLECTION)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    _attempt(payment, AttemptKind.REFUND, "r1")
    assert {
        collection_wallet(MTN): 10_000,
        merchant_reserved("m1"): -10_000,
    } == _sums(payment)
    _settle(payment, "r1", AttemptStatus.SUCCEEDED)
    assert _sums(payment) == {}


def test_new_entries_skips_what_was_posted() -> None:
    """Only keys not already posted come back."""
    payment = _payment(PaymentKind.PAYOUT)
    _to_processing(payment)
    _attempt(payment, AttemptKind.DISBURSE, "d1")
    posted = [e.key for e in entries_for(payment)]
    _settle(payment, "d1", AttemptStatus.SUCCEEDED)
    assert [e.key for e in new_entries(payment, posted)] == [("d1", "disburse")]


def test_topup_and_overdraft_detection() -> None:
    """A top-up fills the float; spending past it shows as overdrawn."""
    sums = apply({}, [topup_entry("t1", MTN, Money(500))])
    assert Money(500) == balance_of(provider_float(MTN), sums[(provider_float(MTN), "GHS")])
    assert overdrawn(sums) == []
    sums[(provider_float(MTN), "GHS")] -= 501
    assert [(provider_float(MTN), "GHS")] == overdrawn(sums)
    with pytest.raises(InvalidAmount):
        topup_entry("t2", MTN, Money(0))


# --- any sequence of legal operations ---------------------------------------------------
_OPS = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(
            ["collect", "disburse", "refund", "succeed", "fail", "unknown", "confirm", "end"]
        ),
    ),
    max_size=40,
)


def _step(payment: Payment, op: str, n: int) -> None:
    """One operation through the aggregate's own rules (illegal ones raise and are skipped)."""
    open_attempts = [a for a in payment.attempts if a.is_open]
    if op in ("collect", "disburse", "refund"):
        kind = {"collect": AttemptKind.COLLECT, "disburse": AttemptKind.DISBURSE}.get(
            op, AttemptKind.REFUND
        )
        _attempt(payment, kind, f"{payment.id}-{n}", (MTN, TELECEL)[n % 2])
    elif op in ("succeed", "fail", "unknown") and open_attempts:
        status = {"succeed": AttemptStatus.SUCCEEDED, "fail": AttemptStatus.FAILED}.get(
            op, AttemptStatus.UNKNOWN
        )
        open_attempts[0].provider_charges_minor = n % 3  # sometimes a reported charge
        payment.update_attempt(open_attempts[0], status, ProviderOutcome.unknown("t"), T0)
    elif op == "confirm":
        payment.transition(PaymentState.CONFIRMED, T0, actor="t", reason="t")
    elif op == "end" and not payment.money_may_be_moving:
        payment.fail(T0, code="x", reason="x")


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(st.sampled_from(list(PaymentKind)), min_size=1, max_size=4), ops=_OPS)
def test_any_legal_sequence_keeps_the_books_balanced(kinds, ops) -> None:
    """Every entry balances, implied entries never change once implied, all accounts sum to 0."""
    payments = [_payment(k, 1_000 * (i + 1), f"p{i}") for i, k in enumerate(kinds)]
    for payment in payments:
        payment.fee_minor = 37
        _to_processing(payment)
    posted: dict[tuple[str, str], JournalEntry] = {}
    for n, (index, op) in enumerate(ops):
        payment = payments[index % len(payments)]
        try:
            _step(payment, op, n)
        except DomainError:
            continue
        implied = entries_for(payment)
        assert {e.key for e in implied} == implied_keys(payment)
        for journal_entry in implied:
            assert posted.setdefault(journal_entry.key, journal_entry) == journal_entry
    sums = apply({}, posted.values())
    assert sum(sums.values()) == 0
    for journal_entry in posted.values():
        assert sum(p.amount.minor for p in journal_entry.postings) == 0


def test_a_reported_provider_charge_is_posted() -> None:
    """The provider kept part of the collection: charges debited, the wallet credited."""
    payment = _payment(PaymentKind.COLLECTION)
    _to_processing(payment)
    _attempt(payment, AttemptKind.COLLECT, "c1")
    attempt = payment.attempt_by_reference("c1")
    assert attempt is not None
    attempt.provider_charges_minor = 195
    _settle(payment, "c1", AttemptStatus.SUCCEEDED)
    assert {
        collection_wallet(MTN): 10_000 - 195,
        provider_charges(MTN): 195,
        merchant_available("m1"): -10_000,
    } == _sums(payment)
