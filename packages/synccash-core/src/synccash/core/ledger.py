"""The double-entry ledger: chart of accounts, balanced journal entries, posting rules.

Amounts are signed integer pesewas: **debit positive, credit negative**, and every entry
sums to zero per currency (the constructor refuses anything else; the database checks it
again). An account's *balance* is shown on its normal side: debit-normal accounts (money
SyncCash holds at a provider) as the sum of their postings, credit-normal ones (what
SyncCash owes, earns or has seen leave) as minus that sum.

Chart of accounts (names are stable strings; `<p>` is a provider id, `<m>` a merchant id):

| account | normal | guarded | holds |
|---|---|---|---|
| `provider:<p>:collection` | debit | no | our collection wallet at p (payers pay into it, refunds leave it) |
| `provider:<p>:float` | debit | **yes** | our disbursement float at p, free to send |
| `provider:<p>:float_held` | debit | no | float committed to disbursements sent or about to be sent |
| `provider:<p>:world` | credit | no | the outside world at p (top-ups, payers' fees paid at p) |
| `provider:<p>:charges` | credit | no | the provider's own fees on our payments (paid by payers at p) |
| `merchant:<m>:available` | credit | **yes** | what SyncCash owes merchant m and m may pay out |
| `merchant:<m>:reserved` | credit | no | m's money held for a payout or refund in flight |
| `platform:fees_earned` | credit | no | SyncCash's platform fees |
| `platform:levies_payable` | credit | no | levies (E-Levy) on our payments, collected at the provider |
| `platform:in_transit` | credit | no | wallet-to-wallet transfers collected, payee not yet credited |

Guarded accounts never go below zero (on their normal side); the database refuses a
transaction that would take them there (`InsufficientBalance`).

The posting rules (`entries_for`) derive, from a payment's current state, every entry it
implies; each has an idempotency key (attempt reference or payment id, `PostingKind`), so
the repository writes only what a save newly implies and a replay never posts twice:

- COLLECT confirmed: collection wallet += amount; the merchant's available (COLLECTION) or
  in transit (TRANSFER) is credited.
- The payer's fee quote (`fee_minor`, itemised in `fee_quote`) is paid at the provider on
  top of the leg amount: SyncCash's wallets move exactly the attempt amounts, and a FEE
  entry records it: world debited the fee, provider charges, levies payable and platform
  fees credited their parts. Posted with the leg that confirmed (the collect, or a
  payout's disbursement).
- DISBURSE (a transfer's second leg, or a payout): from the attempt's creation (before it
  is sent) its amount is held out of the provider float (guarded); posted from the held
  float when it succeeds (to the payee, against in transit or the merchant's reservation);
  released to the float when it fails; held while unknown.
- PAYOUT: the amount is reserved out of the merchant's available balance from acceptance
  (guarded: a payout the balance cannot cover is refused), posted by the disbursement,
  released when the payout definitively fails; reserved while anything is unknown.
- REFUND of a collection: the amount is reserved out of the merchant's available balance
  when the refund is requested, paid from the collection wallet when it succeeds, released
  when it fails. A transfer's compensation refund (payee never credited) is paid from in
  transit instead.
- Provider charges a provider reports keeping out of a collection or refund it confirmed
  (`Attempt.provider_charges_minor`): a CHARGE entry, the collection wallet credited and
  provider charges debited (SyncCash's cost; the merchant is credited the amount it asked
  for). A disbursement's reported charge is not posted yet (it would come out of the
  guarded float after the money moved; see README, known limits).
- Float top-up (operator): float += amount against the provider's world.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from attrs import field, frozen

from synccash.core.errors import (
    InsufficientBalance,
    InvalidAmount,
    UnbalancedEntry,
    ValidationError,
)
from synccash.core.money import Money
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentKind,
    PaymentState,
)
from synccash.core.providers import ProviderId

__all__ = [
    "FEES_EARNED",
    "IN_TRANSIT",
    "LEVIES_PAYABLE",
    "InsufficientBalance",
    "JournalEntry",
    "Posting",
    "PostingKind",
    "UnbalancedEntry",
    "apply",
    "balance_of",
    "collection_wallet",
    "entries_for",
    "entry",
    "fee_parts",
    "float_held",
    "implied_keys",
    "is_guarded",
    "merchant_accounts",
    "merchant_available",
    "merchant_reserved",
    "new_entries",
    "normal_sign",
    "overdrawn",
    "provider_accounts",
    "provider_charges",
    "provider_float",
    "topup_entry",
    "world",
]


class PostingKind(enum.StrEnum):
    """What an entry records; with the reference it is the entry's idempotency key."""

    COLLECT = "collect"
    FEE = "fee"
    REFUND_HOLD = "refund_hold"
    REFUND = "refund"
    REFUND_RELEASE = "refund_release"
    DISBURSE_HOLD = "disburse_hold"
    DISBURSE = "disburse"
    DISBURSE_RELEASE = "disburse_release"
    PAYOUT_HOLD = "payout_hold"
    PAYOUT_RELEASE = "payout_release"
    CHARGE = "charge"
    TOPUP = "topup"


# --- the chart of accounts -------------------------------------------------------------
FEES_EARNED: Final = "platform:fees_earned"
LEVIES_PAYABLE: Final = "platform:levies_payable"
IN_TRANSIT: Final = "platform:in_transit"

#: Suffixes of debit-normal accounts (what SyncCash holds); every other account is credit-normal.
_DEBIT_SUFFIXES: Final = (":collection", ":float", ":float_held")


def collection_wallet(provider: ProviderId) -> str:
    """Our collection wallet at a provider."""
    return f"provider:{provider.value}:collection"


def provider_float(provider: ProviderId) -> str:
    """Our disbursement float at a provider (guarded)."""
    return f"provider:{provider.value}:float"


def float_held(provider: ProviderId) -> str:
    """Float committed to disbursements in flight at a provider."""
    return f"provider:{provider.value}:float_held"


def world(provider: ProviderId) -> str:
    """The outside world at a provider."""
    return f"provider:{provider.value}:world"


def provider_charges(provider: ProviderId) -> str:
    """The provider's fees on our payments."""
    return f"provider:{provider.value}:charges"


def merchant_available(merchant_id: str) -> str:
    """What a merchant may pay out (guarded)."""
    return f"merchant:{merchant_id}:available"


def merchant_reserved(merchant_id: str) -> str:
    """A merchant's money held for payouts and refunds in flight."""
    return f"merchant:{merchant_id}:reserved"


def is_guarded(account: str) -> bool:
    """True for accounts that must never go below zero: merchant available, provider float."""
    return (account.startswith("merchant:") and account.endswith(":available")) or (
        account.startswith("provider:") and account.endswith(":float")
    )


def normal_sign(account: str) -> int:
    """+1 for a debit-normal account, -1 for a credit-normal one."""
    return 1 if account.startswith("provider:") and account.endswith(_DEBIT_SUFFIXES) else -1


def merchant_accounts(merchant_id: str) -> tuple[str, str]:
    """The merchant's (available, reserved) accounts."""
    return merchant_available(merchant_id), merchant_reserved(merchant_id)


def provider_accounts(provider: ProviderId) -> tuple[str, ...]:
    """Every account SyncCash keeps at one provider."""
    return (
        collection_wallet(provider),
        provider_float(provider),
        float_held(provider),
        world(provider),
        provider_charges(provider),
    )


# --- entries ---------------------------------------------------------------------------
@frozen
class Posting:
    """One line of an entry: a signed amount (debit > 0, credit < 0) on one account."""

    account: str
    amount: Money

    def __attrs_post_init__(self) -> None:
        if not self.account:
            raise ValidationError("a posting needs an account")
        if self.amount.is_zero:
            raise InvalidAmount(f"a posting to {self.account} must not be zero")


def _checked(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    if len(postings) < 2:
        raise UnbalancedEntry("an entry has at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.amount.currency] += posting.amount.minor
    off = {c: t for c, t in totals.items() if t}
    if off:
        raise UnbalancedEntry(f"postings do not balance: {off}")
    return tuple(postings)


@frozen
class JournalEntry:
    """A balanced set of postings, identified by (reference, kind)."""

    reference: str
    kind: PostingKind
    postings: tuple[Posting, ...] = field(converter=_checked)
    payment_id: str | None = None
    merchant_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The idempotency key: (attempt reference or payment id, posting kind)."""
        return (self.reference, self.kind.value)


def entry(
    reference: str,
    kind: PostingKind,
    lines: Iterable[tuple[str, int]],
    *,
    currency: str,
    payment: Payment | None = None,
) -> JournalEntry:
    """An entry from (account, signed minor) lines; zero lines are left out."""
    postings = [Posting(a, Money(m, currency)) for a, m in lines if m]
    return JournalEntry(
        reference,
        kind,
        postings,
        payment_id=None if payment is None else payment.id,
        merchant_id=None if payment is None else payment.merchant_id,
    )


def topup_entry(topup_id: str, provider: ProviderId, amount: Money) -> JournalEntry:
    """An operator's float top-up: float += amount against the provider's world."""
    if not amount.is_positive:
        raise InvalidAmount("a top-up must be positive")
    return entry(
        topup_id,
        PostingKind.TOPUP,
        [(provider_float(provider), amount.minor), (world(provider), -amount.minor)],
        currency=amount.currency,
    )


# --- the posting rules -----------------------------------------------------------------
_NO_MONEY: Final = frozenset({PaymentState.FAILED, PaymentState.EXPIRED, PaymentState.CANCELLED})


def entries_for(payment: Payment) -> tuple[JournalEntry, ...]:
    """Every entry the payment's current state implies (pure; monotone as the state moves on)."""
    return tuple(_entries(payment))


def _entries(payment: Payment) -> Iterator[JournalEntry]:
    if payment.kind is PaymentKind.PAYOUT:
        yield from _payout_reservation(payment)
    disbursed = any(
        a.kind is AttemptKind.DISBURSE and a.status is AttemptStatus.SUCCEEDED
        for a in payment.attempts
    )
    for attempt in payment.attempts:
        if attempt.kind is AttemptKind.COLLECT:
            yield from _collect(payment, attempt)
        elif attempt.kind is AttemptKind.DISBURSE:
            yield from _disburse(payment, attempt)
        else:
            yield from _refund(payment, attempt, disbursed=disbursed)


def _payout_reservation(payment: Payment) -> Iterator[JournalEntry]:
    available, reserved = merchant_accounts(payment.merchant_id)
    amount, currency = payment.amount.minor, payment.amount.currency
    yield entry(
        payment.id,
        PostingKind.PAYOUT_HOLD,
        [(available, amount), (reserved, -amount)],
        currency=currency,
        payment=payment,
    )
    if payment.state in _NO_MONEY and not payment.money_may_be_moving:
        yield entry(
            payment.id,
            PostingKind.PAYOUT_RELEASE,
            [(reserved, amount), (available, -amount)],
            currency=currency,
            payment=payment,
        )


def _collect(payment: Payment, attempt: Attempt) -> Iterator[JournalEntry]:
    if attempt.status is not AttemptStatus.SUCCEEDED:
        return
    owed = (
        IN_TRANSIT
        if payment.kind is PaymentKind.TRANSFER
        else merchant_available(payment.merchant_id)
    )
    amount = attempt.amount.minor
    yield entry(
        attempt.reference,
        PostingKind.COLLECT,
        [(collection_wallet(attempt.provider), amount), (owed, -amount)],
        currency=attempt.amount.currency,
        payment=payment,
    )
    yield from _fee(payment, attempt)
    yield from _charge(payment, attempt)


def _charge(payment: Payment, attempt: Attempt) -> Iterator[JournalEntry]:
    """What the provider reported keeping out of a collection or refund it confirmed."""
    charged = attempt.provider_charges_minor or 0
    if charged <= 0 or attempt.status is not AttemptStatus.SUCCEEDED:
        return
    yield entry(
        attempt.reference,
        PostingKind.CHARGE,
        [
            (provider_charges(attempt.provider), charged),
            (collection_wallet(attempt.provider), -charged),
        ],
        currency=attempt.amount.currency,
        payment=payment,
    )


def _disburse(payment: Payment, attempt: Attempt) -> Iterator[JournalEntry]:
    free, held = provider_float(attempt.provider), float_held(attempt.provider)
    amount, currency = attempt.amount.minor, attempt.amount.currency
    yield entry(
        attempt.reference,
        PostingKind.DISBURSE_HOLD,
        [(held, amount), (free, -amount)],
        currency=currency,
        payment=payment,
    )
    if attempt.status is AttemptStatus.SUCCEEDED:
        funded_by = (
            merchant_reserved(payment.merchant_id)
            if payment.kind is PaymentKind.PAYOUT
            else IN_TRANSIT
        )
        yield entry(
            attempt.reference,
            PostingKind.DISBURSE,
            [(funded_by, amount), (held, -amount)],
            currency=currency,
            payment=payment,
        )
        if payment.kind is PaymentKind.PAYOUT:
            yield from _fee(payment, attempt)
    elif attempt.status is AttemptStatus.FAILED:
        yield entry(
            attempt.reference,
            PostingKind.DISBURSE_RELEASE,
            [(free, amount), (held, -amount)],
            currency=currency,
            payment=payment,
        )


def _refund(payment: Payment, attempt: Attempt, *, disbursed: bool) -> Iterator[JournalEntry]:
    amount, currency = attempt.amount.minor, attempt.amount.currency
    wallet = collection_wallet(attempt.provider)
    if payment.kind is PaymentKind.TRANSFER and not disbursed:
        # compensation: the payee was never credited, the money is still in transit
        if attempt.status is AttemptStatus.SUCCEEDED:
            yield entry(
                attempt.reference,
                PostingKind.REFUND,
                [(IN_TRANSIT, amount), (wallet, -amount)],
                currency=currency,
                payment=payment,
            )
            yield from _charge(payment, attempt)
        return
    available, reserved = merchant_accounts(payment.merchant_id)
    yield entry(
        attempt.reference,
        PostingKind.REFUND_HOLD,
        [(available, amount), (reserved, -amount)],
        currency=currency,
        payment=payment,
    )
    if attempt.status is AttemptStatus.SUCCEEDED:
        lines = [(reserved, amount), (wallet, -amount)]
        yield entry(
            attempt.reference, PostingKind.REFUND, lines, currency=currency, payment=payment
        )
        yield from _charge(payment, attempt)
    elif attempt.status is AttemptStatus.FAILED:
        lines = [(reserved, amount), (available, -amount)]
        yield entry(
            attempt.reference, PostingKind.REFUND_RELEASE, lines, currency=currency, payment=payment
        )


def fee_parts(payment: Payment) -> tuple[int, int, int]:
    """(provider fee, levy, platform fee) of the payer's fee quote, summing to `fee_minor`.

    Parts come from `fee_quote`; the provider fee takes whatever the quote does not itemise,
    so the parts always add up to `fee_minor`.
    """
    quote: Mapping[str, Any] = payment.fee_quote or {}
    currency = payment.amount.currency
    levy = _quoted(quote.get("levy"), currency)
    platform = _quoted(quote.get("platform_fee"), currency)
    if levy + platform > payment.fee_minor:
        return payment.fee_minor, 0, 0
    return payment.fee_minor - levy - platform, levy, platform


def _quoted(value: object, currency: str) -> int:
    if value is None:
        return 0
    return Money.parse(value, currency).minor


def _fee(payment: Payment, attempt: Attempt) -> Iterator[JournalEntry]:
    if payment.fee_minor <= 0:
        return
    provider_fee, levy, platform = fee_parts(payment)
    yield entry(
        attempt.reference,
        PostingKind.FEE,
        [
            (world(attempt.provider), payment.fee_minor),
            (provider_charges(attempt.provider), -provider_fee),
            (LEVIES_PAYABLE, -levy),
            (FEES_EARNED, -platform),
        ],
        currency=attempt.amount.currency,
        payment=payment,
    )


def implied_keys(payment: Payment) -> frozenset[tuple[str, str]]:
    """The keys of `entries_for(payment)`, without building the entries.

    The hot path's check (a save that implies nothing new builds nothing); a test keeps it
    equal to `entries_for` over any sequence of legal operations.
    """
    keys: list[tuple[str, str]] = []
    if payment.kind is PaymentKind.PAYOUT:
        keys.append((payment.id, PostingKind.PAYOUT_HOLD.value))
        if payment.state in _NO_MONEY and not payment.money_may_be_moving:
            keys.append((payment.id, PostingKind.PAYOUT_RELEASE.value))
    disbursed = False
    for attempt in payment.attempts:
        if attempt.kind is AttemptKind.DISBURSE and attempt.status is AttemptStatus.SUCCEEDED:
            disbursed = True
    for attempt in payment.attempts:
        keys.extend(_attempt_keys(payment, attempt, disbursed=disbursed))
    return frozenset(keys)


def _attempt_keys(payment: Payment, attempt: Attempt, *, disbursed: bool) -> list[tuple[str, str]]:
    ref, status, k = attempt.reference, attempt.status, PostingKind
    succeeded = status is AttemptStatus.SUCCEEDED
    charged = succeeded and (attempt.provider_charges_minor or 0) > 0
    if attempt.kind is AttemptKind.COLLECT:
        if not succeeded:
            return []
        kinds = [k.COLLECT] + [k.FEE] * (payment.fee_minor > 0) + [k.CHARGE] * charged
    elif attempt.kind is AttemptKind.DISBURSE:
        kinds = [k.DISBURSE_HOLD]
        if succeeded:
            fee = payment.kind is PaymentKind.PAYOUT and payment.fee_minor > 0
            kinds += [k.DISBURSE] + [k.FEE] * fee
        elif status is AttemptStatus.FAILED:
            kinds.append(k.DISBURSE_RELEASE)
    elif payment.kind is PaymentKind.TRANSFER and not disbursed:
        kinds = [k.REFUND, k.CHARGE][: (1 + charged)] if succeeded else []
    else:
        kinds = [k.REFUND_HOLD]
        if succeeded:
            kinds += [k.REFUND] + [k.CHARGE] * charged
        elif status is AttemptStatus.FAILED:
            kinds.append(k.REFUND_RELEASE)
    return [(ref, kind.value) for kind in kinds]


def new_entries(payment: Payment, already: Iterable[tuple[str, str]]) -> tuple[JournalEntry, ...]:
    """The entries `payment` implies that are not among the keys `already` posted."""
    done = set(already)
    return tuple(e for e in _entries(payment) if e.key not in done)


# --- balances ---------------------------------------------------------------------------
def balance_of(account: str, signed_minor: int, currency: str = "GHS") -> Money:
    """An account's balance on its normal side, from the sum of its signed postings."""
    return Money(normal_sign(account) * signed_minor, currency)


def overdrawn(balances: Mapping[tuple[str, str], int]) -> list[tuple[str, str]]:
    """(account, currency) of guarded accounts whose signed sum is below zero on the normal side."""
    return [
        key
        for key, total in balances.items()
        if is_guarded(key[0]) and normal_sign(key[0]) * total < 0
    ]


def apply(
    balances: dict[tuple[str, str], int], entries: Iterable[JournalEntry]
) -> dict[tuple[str, str], int]:
    """Add the entries' postings to signed sums per (account, currency), in place."""
    for journal_entry in entries:
        for posting in journal_entry.postings:
            key = (posting.account, posting.amount.currency)
            balances[key] = balances.get(key, 0) + posting.amount.minor
    return balances
