"""`ledger verify`: the books recomputed from their postings and compared with what must be.

Pure: the caller reads the stored postings, the stored guarded balances, the payments and
(in sandbox mode) the providers' own movements; `verify_books` returns one line per
difference (none: the books are right).

Checks:
- every entry balances per currency, and all postings sum to zero per currency;
- each guarded account's stored balance equals the sum of its postings and is not below 0;
- every payment has exactly the entries its state implies (`entries_for`), posting by posting;
  an entry naming a payment that does not exist is a difference too;
- with provider movements: every movement (a collection debit, a disbursement credit, a
  refund) has exactly one matching COLLECT / DISBURSE / REFUND entry of the same amount at
  the same provider, and every such entry has exactly one movement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from attrs import frozen

from synccash.core.ledger import PostingKind, entries_for, is_guarded, normal_sign
from synccash.core.payment import Payment


@frozen
class StoredPosting:
    """One posting as stored, with its entry's key and payment."""

    reference: str
    kind: str
    seq: int
    account: str
    currency: str
    amount_minor: int
    payment_id: str | None = None


@frozen
class ProviderMovement:
    """One money movement in a provider's own ledger (the sandboxes' truth)."""

    provider: str
    kind: str  # debit (collection), credit (disbursement, or a refund booked as one), refund
    amount_minor: int
    reference: str
    original_reference: str | None = None  # a refund booked under the provider's own id


_MOVED_BY: dict[str, frozenset[str]] = {
    "debit": frozenset({PostingKind.COLLECT.value}),
    "credit": frozenset({PostingKind.DISBURSE.value, PostingKind.REFUND.value}),
    "refund": frozenset({PostingKind.REFUND.value}),
}
_CASH_KINDS = frozenset(
    {PostingKind.COLLECT.value, PostingKind.DISBURSE.value, PostingKind.REFUND.value}
)
Key = tuple[str, str]


def verify_books(
    postings: Sequence[StoredPosting],
    stored_balances: Mapping[tuple[str, str], int],
    payments: Iterable[Payment],
    movements: Sequence[ProviderMovement] | None = None,
) -> list[str]:
    """Every difference between the books and what they must be (empty: none)."""
    entries = _by_entry(postings)
    problems = _balanced(entries, postings)
    problems += _guarded(postings, stored_balances)
    problems += _implied(entries, postings, payments)
    if movements is not None:
        problems += _matched(entries, movements)
    return problems


def _by_entry(postings: Sequence[StoredPosting]) -> dict[Key, list[StoredPosting]]:
    entries: dict[Key, list[StoredPosting]] = defaultdict(list)
    for p in postings:
        entries[(p.reference, p.kind)].append(p)
    return dict(entries)


def _balanced(
    entries: Mapping[Key, list[StoredPosting]], postings: Sequence[StoredPosting]
) -> list[str]:
    problems = []
    for key, lines in entries.items():
        for currency, total in _totals(lines).items():
            if total:
                problems.append(f"entry {key[0]} {key[1]}: sums to {total} {currency}, not 0")
    for currency, total in _totals(postings).items():
        if total:
            problems.append(f"all postings sum to {total} {currency}, not 0")
    return problems


def _totals(lines: Iterable[StoredPosting]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for p in lines:
        totals[p.currency] += p.amount_minor
    return totals


def _guarded(postings: Sequence[StoredPosting], stored: Mapping[tuple[str, str], int]) -> list[str]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for p in postings:
        if is_guarded(p.account):
            sums[(p.account, p.currency)] += normal_sign(p.account) * p.amount_minor
    problems = []
    for key in sorted(set(sums) | set(stored)):
        recomputed, kept = sums.get(key, 0), stored.get(key, 0)
        if recomputed != kept:
            problems.append(f"balance {key[0]} {key[1]}: stored {kept}, postings say {recomputed}")
        if recomputed < 0:
            problems.append(f"balance {key[0]} {key[1]}: {recomputed} is below zero")
    return problems


def _implied(
    entries: Mapping[Key, list[StoredPosting]],
    postings: Sequence[StoredPosting],
    payments: Iterable[Payment],
) -> list[str]:
    stored_by_payment: dict[str, set[Key]] = defaultdict(set)
    for p in postings:
        if p.payment_id is not None:
            stored_by_payment[p.payment_id].add((p.reference, p.kind))
    problems: list[str] = []
    seen: set[str] = set()
    for payment in payments:
        seen.add(payment.id)
        problems += _one_payment(payment, stored_by_payment.get(payment.id, set()), entries)
    problems += [
        f"entries name payment {payment_id}, which does not exist"
        for payment_id in sorted(stored_by_payment.keys() - seen)
    ]
    return problems


def _one_payment(
    payment: Payment, stored: set[Key], entries: Mapping[Key, list[StoredPosting]]
) -> list[str]:
    expected = {e.key: e for e in entries_for(payment)}
    where = f"payment {payment.id} {payment.state.value}"
    problems = [
        f"{where}: entry {k[0]} {k[1]} is missing" for k in sorted(expected.keys() - stored)
    ]
    problems += [
        f"{where}: entry {k[0]} {k[1]} is not implied by its state"
        for k in sorted(stored - expected.keys())
    ]
    for key in sorted(expected.keys() & stored):
        want = sorted(
            (p.account, p.amount.currency, p.amount.minor) for p in expected[key].postings
        )
        got = sorted((p.account, p.currency, p.amount_minor) for p in entries[key])
        if want != got:
            problems.append(f"{where}: entry {key[0]} {key[1]} posts {got}, expected {want}")
    return problems


def _plain(reference: str) -> str:
    # some providers take our reference without its dashes (Telecel's clientreference)
    return reference.replace("-", "").lower()


def _cash(entries: Mapping[Key, list[StoredPosting]]) -> dict[str, list[tuple[Key, str, int]]]:
    """Cash entries by plain reference: (key, provider, amount moved)."""
    out: dict[str, list[tuple[Key, str, int]]] = defaultdict(list)
    for key, lines in entries.items():
        if key[1] not in _CASH_KINDS:
            continue
        cash = [p for p in lines if p.account.startswith("provider:")]
        if not cash:
            continue
        provider = cash[0].account.split(":")[1]
        out[_plain(key[0])].append((key, provider, abs(cash[0].amount_minor)))
    return out


def _matched(
    entries: Mapping[Key, list[StoredPosting]], movements: Sequence[ProviderMovement]
) -> list[str]:
    cash = _cash(entries)
    refund_of = _refunds_by_original(entries)
    used: dict[Key, int] = defaultdict(int)
    problems = []
    for move in movements:
        candidates = [
            c
            for c in cash.get(_plain(move.reference), [])
            if c[0][1] in _MOVED_BY.get(move.kind, ())
        ]
        if not candidates and move.original_reference is not None:
            candidates = refund_of.get(_plain(move.original_reference), [])
        match = next(
            (c for c in candidates if c[1] == move.provider and c[2] == move.amount_minor), None
        )
        what = f"{move.provider} {move.kind} {move.amount_minor} {move.reference}"
        if match is None:
            problems.append(f"provider movement {what}: no matching posting")
            continue
        used[match[0]] += 1
        if used[match[0]] == 2:
            problems.append(f"provider movement {what}: entry {match[0][0]} matched twice")
    for items in cash.values():
        for key, provider, amount in items:
            if not used.get(key):
                problems.append(
                    f"entry {key[0]} {key[1]} ({provider} {amount}): no provider movement"
                )
    return problems


def _refunds_by_original(
    entries: Mapping[Key, list[StoredPosting]],
) -> dict[str, list[tuple[Key, str, int]]]:
    """REFUND entries by the plain reference of their payment's collection (for providers
    that book a refund under their own reference)."""
    collect_of: dict[str, str] = {}
    for key, lines in entries.items():
        if key[1] == PostingKind.COLLECT.value and lines[0].payment_id is not None:
            collect_of[lines[0].payment_id] = _plain(key[0])
    out: dict[str, list[tuple[Key, str, int]]] = defaultdict(list)
    for items in _cash(entries).values():
        for key, provider, amount in items:
            payment_id = entries[key][0].payment_id
            if key[1] == PostingKind.REFUND.value and payment_id in collect_of:
                out[collect_of[payment_id]].append((key, provider, amount))
    return out
