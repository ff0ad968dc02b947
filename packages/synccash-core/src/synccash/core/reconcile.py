"""Matching a provider's statement with our attempts: every line and every attempt, one class.

Pure. A line is matched to an attempt by, in order: the provider's transaction id (what we
stored from its answers), our attempt reference (compared without dashes and case: Hubtel
echoes it without dashes), then our payment id plus the kind (MTN's externalId). Each attempt
is matched at most once: a second line for the same attempt is money we have no record of
(a duplicated debit) and is `missing_at_us`.

Classes, first that applies:
- `missing_at_us`: a line no attempt of ours explains (the provider moved money, or says it
  tried to, for a reference we never sent or twice for one we sent once);
- `status_mismatch`: one side says the money moved (line SUCCESS / attempt SUCCEEDED) and the
  other does not (FAILED, or still unknown/pending at our side);
- `amount_mismatch`: both moved money, for different amounts;
- `fee_mismatch`: both moved the same amount but the provider's charges differ from the
  charges its answer told us (attempts without recorded charges are not compared);
- `missing_at_provider`: an attempt of the day we hold SUCCEEDED, or still unresolved, that
  the statement does not list;
- `matched`: everything else, including a failed attempt the report leaves out (no money
  moved on either side).

Attempts are given for a window wider than the day (a line at 00:00:05 may be for an attempt
made at 23:59:58); only attempts whose `in_scope` is true are reported when unmatched.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from attrs import frozen

from synccash.core.statements import LineKind, LineStatus, StatementLine


class MatchClass(enum.StrEnum):
    """The outcome for one line or one attempt."""

    MATCHED = "matched"
    MISSING_AT_US = "missing_at_us"
    MISSING_AT_PROVIDER = "missing_at_provider"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    FEE_MISMATCH = "fee_mismatch"

    @property
    def is_exception(self) -> bool:
        """Everything but `matched` needs an operator (or the lifecycle) to act."""
        return self is not MatchClass.MATCHED


#: Our attempt kinds (`AttemptKind` values) as statement line kinds.
LINE_KIND_OF = {
    "collect": LineKind.COLLECTION.value,
    "disburse": LineKind.DISBURSEMENT.value,
    "refund": LineKind.REFUND.value,
}

#: Attempt statuses (`AttemptStatus` values) that mean "not final yet" at our side.
UNRESOLVED = frozenset({"created", "submitted", "pending", "unknown"})


@frozen
class OurAttempt:
    """What we hold for one attempt at the provider (read from payment_attempts)."""

    reference: str
    payment_id: str
    kind: str  # a LineKind value (collection, disbursement, refund): see LINE_KIND_OF
    status: str  # an AttemptStatus value
    amount_minor: int
    charges_minor: int | None
    provider_txn_id: str | None
    in_scope: bool = True


@frozen
class Outcome:
    """One result row: a line, an attempt, or both, and its class."""

    match_class: MatchClass
    line: StatementLine | None
    attempt: OurAttempt | None
    detail: str

    @property
    def key(self) -> str:
        """Stable identity within a run: the line's provider id, else the attempt reference."""
        if self.line is not None:
            return f"line:{self.line.provider_txn_id}"
        assert self.attempt is not None  # noqa: S101 - an outcome always has one side
        return f"attempt:{self.attempt.reference}"


def normal_reference(reference: str) -> str:
    """A reference as compared: no dashes, lower case."""
    return reference.replace("-", "").lower()


class _Index:
    def __init__(self, attempts: Iterable[OurAttempt]) -> None:
        self.by_txn: dict[str, OurAttempt] = {}
        self.by_ref: dict[str, OurAttempt] = {}
        self.by_payment: dict[tuple[str, str], list[OurAttempt]] = {}
        for attempt in attempts:
            if attempt.provider_txn_id:
                self.by_txn[attempt.provider_txn_id] = attempt
            self.by_ref[normal_reference(attempt.reference)] = attempt
            self.by_payment.setdefault((attempt.payment_id, attempt.kind), []).append(attempt)

    def find(self, line: StatementLine) -> OurAttempt | None:
        found = self.by_txn.get(line.provider_txn_id)
        if found is None and line.reference:
            found = self.by_ref.get(normal_reference(line.reference))
        if found is None and line.external_id:
            candidates = self.by_payment.get((line.external_id, line.kind.value), [])
            found = _best(candidates, line)
        return found


def _best(candidates: Sequence[OurAttempt], line: StatementLine) -> OurAttempt | None:
    """Of a payment's attempts of one kind, the one whose outcome agrees with the line."""
    if not candidates:
        return None
    moved = line.status is LineStatus.SUCCESS
    agreeing = [a for a in candidates if (a.status == "succeeded") == moved]
    return (agreeing or list(candidates))[-1]


def classify(line: StatementLine, attempt: OurAttempt) -> tuple[MatchClass, str]:
    """The class of a line matched with an attempt, and a one-line why."""
    line_moved = line.status is LineStatus.SUCCESS
    we_moved = attempt.status == "succeeded"
    if line_moved != we_moved:
        return MatchClass.STATUS_MISMATCH, f"provider {line.status.value}, us {attempt.status}"
    if not line_moved:
        return MatchClass.MATCHED, f"no money moved (provider {line.status.value})"
    if line.amount_minor != attempt.amount_minor:
        return (
            MatchClass.AMOUNT_MISMATCH,
            f"provider {line.amount_minor}, us {attempt.amount_minor} pesewas",
        )
    if attempt.charges_minor is not None and attempt.charges_minor != line.charges_minor:
        return (
            MatchClass.FEE_MISMATCH,
            f"provider charges {line.charges_minor}, us {attempt.charges_minor} pesewas",
        )
    return MatchClass.MATCHED, "same status, amount and charges"


def _unmatched_attempt(attempt: OurAttempt) -> Outcome | None:
    if not attempt.in_scope:
        return None
    if attempt.status == "succeeded":
        return Outcome(
            MatchClass.MISSING_AT_PROVIDER, None, attempt, "we hold it succeeded; not listed"
        )
    if attempt.status in UNRESOLVED:
        return Outcome(
            MatchClass.MISSING_AT_PROVIDER, None, attempt, f"{attempt.status} at us; not listed"
        )
    return Outcome(MatchClass.MATCHED, None, attempt, "failed at us; not listed")


def reconcile(lines: Iterable[StatementLine], attempts: Iterable[OurAttempt]) -> list[Outcome]:
    """Classify every line, then every attempt no line matched (see the module docstring)."""
    all_attempts = list(attempts)
    index = _Index(all_attempts)
    used: set[str] = set()
    outcomes: list[Outcome] = []
    for line in lines:
        attempt = index.find(line)
        if attempt is None:
            outcomes.append(Outcome(MatchClass.MISSING_AT_US, line, None, _unknown_detail(line)))
            continue
        if attempt.reference in used:
            outcomes.append(
                Outcome(MatchClass.MISSING_AT_US, line, attempt, "a second line for one attempt")
            )
            continue
        used.add(attempt.reference)
        match_class, detail = classify(line, attempt)
        outcomes.append(Outcome(match_class, line, attempt, detail))
    for attempt in all_attempts:
        if attempt.reference not in used:
            outcome = _unmatched_attempt(attempt)
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes


def _unknown_detail(line: StatementLine) -> str:
    what = "moved money" if line.status is LineStatus.SUCCESS else f"says {line.status.value}"
    direction = "from" if line.kind is LineKind.COLLECTION else "to"
    return f"provider {what} {direction} {line.msisdn} for an unknown reference"


def exception_counts(outcomes: Iterable[Outcome]) -> dict[MatchClass, int]:
    """How many outcomes per class (every class present, zero included)."""
    counts = dict.fromkeys(MatchClass, 0)
    for outcome in outcomes:
        counts[outcome.match_class] += 1
    return counts
