"""Each sandbox's daily report, read back by SyncCash's parser for that provider."""

from __future__ import annotations

from datetime import date

import pytest

from synccash.core.statements import LineKind, LineStatus, parse_statement
from synccash.sandbox import SandboxWorld
from synccash.sandbox._sandbox import ManualClock, ProviderSandbox
from synccash.sandbox._statements import statement_csv, statement_rows

NUMBERS = {"mtn": "233241234567", "airteltigo": "233261234567", "telecel": "233201234567"}


def _sandbox(provider: str) -> tuple[ProviderSandbox, date]:
    clock = ManualClock()
    sandbox = ProviderSandbox(provider, SandboxWorld(), clock=clock)  # type: ignore[arg-type]
    sandbox.accept(
        "collection",
        "c0ffee00-0000-4000-8000-000000000001",
        NUMBERS[provider],
        12_345,
        "GHS",
        provider_txn_id="TX1",
        request={"externalId": "pay_1"},
        charges_minor=123,
    )
    sandbox.accept(
        "disbursement",
        "c0ffee00-0000-4000-8000-000000000002",
        NUMBERS[provider],
        500,
        "GHS",
        provider_txn_id="TX2",
        forced_reason="NOT_ALLOWED",
    )
    return sandbox, sandbox.now().date()


@pytest.mark.parametrize("provider", ["mtn", "airteltigo", "telecel"])
def test_report_round_trips(provider: str) -> None:
    """What the sandbox writes, the provider's parser reads with the same ids and pesewas."""
    sandbox, day = _sandbox(provider)
    lines = list(parse_statement(provider, statement_csv(sandbox, day).splitlines()))
    assert [
        (ln.provider_txn_id, ln.kind, ln.status, ln.amount_minor, ln.charges_minor)
        for ln in lines
        if ln.status is LineStatus.SUCCESS
    ] == [("TX1", LineKind.COLLECTION, LineStatus.SUCCESS, 12_345, 123)]
    assert [ln.provider_txn_id for ln in lines if ln.status is LineStatus.FAILED] == ["TX2"]
    assert (lines[0].reference or "").replace("-", "") == "c0ffee00000040008000000000000001"


def test_other_days_are_left_out() -> None:
    """A report lists only the day asked for (header only otherwise)."""
    sandbox, day = _sandbox("mtn")
    assert len(list(statement_rows(sandbox, day.replace(year=day.year - 1)))) == 1
