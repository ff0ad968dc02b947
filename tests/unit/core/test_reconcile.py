"""Matching statement lines with our attempts: every line and attempt gets exactly one class."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from synccash.core.reconcile import MatchClass, OurAttempt, exception_counts, reconcile
from synccash.core.statements import LineKind, LineStatus, StatementLine

AT = datetime(2026, 12, 8, 10, tzinfo=UTC)


def _line(
    txn: str = "T1",
    reference: str | None = "ref-1",
    *,
    status: LineStatus = LineStatus.SUCCESS,
    amount: int = 1000,
    charges: int = 10,
    external_id: str | None = None,
) -> StatementLine:
    return StatementLine(
        "mtn",
        2,
        txn,
        reference,
        external_id,
        LineKind.COLLECTION,
        status,
        amount,
        charges,
        "233241234567",
        AT,
    )


def _attempt(
    reference: str = "ref-1",
    *,
    status: str = "succeeded",
    amount: int = 1000,
    charges: int | None = 10,
    txn: str | None = "T1",
    in_scope: bool = True,
) -> OurAttempt:
    return OurAttempt(reference, "pay-1", "collection", status, amount, charges, txn, in_scope)


def _classes(lines: list[StatementLine], attempts: list[OurAttempt]) -> list[MatchClass]:
    return [o.match_class for o in reconcile(lines, attempts)]


def test_clean_pair_is_matched() -> None:
    """Same ids, status, amount and charges: matched."""
    assert _classes([_line()], [_attempt()]) == [MatchClass.MATCHED]


def test_reference_without_dashes_matches() -> None:
    """Hubtel echoes the reference without dashes; it still matches."""
    assert _classes([_line("X", "REF1")], [_attempt(txn=None)]) == [MatchClass.MATCHED]


def test_external_id_matches_mtn_lines() -> None:
    """An MTN line with only the payment id (externalId) matches by payment and kind."""
    line = _line("X", None, external_id="pay-1")
    assert _classes([line], [_attempt(txn=None)]) == [MatchClass.MATCHED]


def test_provider_success_we_never_heard_of() -> None:
    """A success for a reference we never sent is missing at us."""
    assert _classes([_line("T9", "nope")], []) == [MatchClass.MISSING_AT_US]


def test_duplicate_debit_is_missing_at_us() -> None:
    """A second line for one attempt is money we have no record of."""
    lines = [_line(), _line("T2")]
    assert _classes(lines, [_attempt()]) == [MatchClass.MATCHED, MatchClass.MISSING_AT_US]


def test_changed_amount() -> None:
    """Both moved money, different amounts: amount mismatch."""
    assert _classes([_line(amount=1100)], [_attempt()]) == [MatchClass.AMOUNT_MISMATCH]


def test_different_charges() -> None:
    """Same amount, other charges: fee mismatch."""
    assert _classes([_line(charges=25)], [_attempt()]) == [MatchClass.FEE_MISMATCH]


def test_unrecorded_charges_are_not_compared() -> None:
    """An attempt whose charges we never learnt matches on amount alone."""
    assert _classes([_line(charges=25)], [_attempt(charges=None)]) == [MatchClass.MATCHED]


def test_success_we_hold_failed_or_unknown() -> None:
    """The provider says success, we hold failed or unknown: status mismatch."""
    for ours in ("failed", "unknown"):
        assert _classes([_line()], [_attempt(status=ours)]) == [MatchClass.STATUS_MISMATCH]


def test_failed_line_for_our_success() -> None:
    """The provider says failed, we hold succeeded: status mismatch."""
    line = _line(status=LineStatus.FAILED)
    assert _classes([line], [_attempt()]) == [MatchClass.STATUS_MISMATCH]


def test_confirmed_but_not_listed() -> None:
    """We hold succeeded, the provider lists nothing: missing at the provider."""
    assert _classes([], [_attempt()]) == [MatchClass.MISSING_AT_PROVIDER]


def test_failed_and_not_listed_is_matched() -> None:
    """No money on either side: matched."""
    assert _classes([], [_attempt(status="failed")]) == [MatchClass.MATCHED]


def test_out_of_scope_attempts_only_match() -> None:
    """An attempt of another day is used for matching but never reported unmatched."""
    assert _classes([], [_attempt(in_scope=False)]) == []


@given(
    st.lists(st.sampled_from(["ref-1", "ref-2", "ref-3", "zz"]), max_size=6),
    st.lists(st.sampled_from(["succeeded", "failed", "unknown"]), min_size=3, max_size=3),
)
def test_every_line_and_attempt_has_one_class(refs: list[str], statuses: list[str]) -> None:
    """Each line appears once; each in-scope attempt appears exactly once."""
    lines = [_line(f"T{i}", ref) for i, ref in enumerate(refs)]
    attempts = [_attempt(f"ref-{i + 1}", status=s, txn=None) for i, s in enumerate(statuses)]
    outcomes = reconcile(lines, attempts)
    assert len(lines) == sum(1 for o in outcomes if o.line is not None)
    seen = [o.attempt.reference for o in outcomes if o.attempt is not None and o.line is None]
    matched = {o.attempt.reference for o in outcomes if o.attempt and o.line}
    assert {a.reference for a in attempts} == set(seen) | matched
    assert len(outcomes) == sum(exception_counts(outcomes).values())
