"""Reconciliation over real PostgreSQL: a sandbox's daily report against our stored attempts."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from attrs import evolve
from payments_factory import T0, make_payment, with_collect_attempt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from synccash.adapters.sql import (
    SqlReconciliation,
    SqlUnitOfWorkFactory,
    make_engine,
    run_id_for,
)
from synccash.cli.main import app as cli_app
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import AttemptStatus
from synccash.core.statements import parse_statement
from synccash.sandbox import SandboxWorld
from synccash.sandbox._sandbox import ManualClock, ProviderSandbox
from synccash.sandbox._statements import statement_csv

pytestmark = pytest.mark.integration

DAY: date = T0.date()
#: pid -> (our final status, provider txn id, charges the provider's answer told us)
OURS = {
    "p1": (AttemptStatus.SUCCEEDED, "T1", 13),
    "p2": (AttemptStatus.FAILED, None, None),
    "p3": (AttemptStatus.SUCCEEDED, "T3", None),
    "p4": (AttemptStatus.UNKNOWN, None, None),
}


async def _store_ours(engine: AsyncEngine, pids: tuple[str, ...]) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    for pid in pids:
        status, txn, charges = OURS[pid]
        payment = with_collect_attempt(make_payment(pid), f"ref-{pid}", T0)
        attempt = payment.attempts[-1]
        if status is AttemptStatus.SUCCEEDED:
            outcome = evolve(ProviderOutcome.succeeded(txn), provider_charges_minor=charges)
            payment.update_attempt(attempt, status, outcome, T0)
        elif status is AttemptStatus.FAILED:
            outcome = ProviderOutcome.failed(FailureReason.INSUFFICIENT_FUNDS)
            payment.update_attempt(attempt, status, outcome, T0)
        else:
            payment.update_attempt(attempt, status, ProviderOutcome.unknown(), T0)
        async with uow() as tx:
            await tx.payments.add(payment)
            await tx.commit()


def _sandbox(days_later: int = 0) -> ProviderSandbox:
    start = T0.timestamp() + 60 + days_later * 86_400
    return ProviderSandbox("mtn", SandboxWorld(), clock=ManualClock(start))


def _provider_side(
    sandbox: ProviderSandbox, pid: str, *, ok: bool, txn: str, amount: int = 1250, charges: int = 13
) -> None:
    sandbox.accept(
        "collection",
        f"ref-{pid}",
        "233241234567",
        amount,
        "GHS",
        provider_txn_id=txn,
        request={"externalId": pid},
        forced_reason=None if ok else "NOT_ENOUGH_FUNDS",
        charges_minor=charges,
    )


async def _import_and_run(
    engine: AsyncEngine, sandbox: ProviderSandbox, tmp_path: Path
) -> tuple[SqlReconciliation, int, int]:
    path = tmp_path / "mtn.csv"
    path.write_text(statement_csv(sandbox, DAY), encoding="utf-8")
    store = SqlReconciliation(engine)
    with path.open(encoding="utf-8", newline="") as lines:
        result = await store.import_lines("mtn", DAY, parse_statement("mtn", lines), T0)
    summary = await store.run("mtn", DAY, T0)
    return store, result.inserted, summary.exceptions


async def test_clean_day_has_no_exceptions_and_reruns_are_idempotent(
    pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    """A day where both sides agree: 0 exceptions; importing and re-running again changes nothing."""
    await _store_ours(pg_engine, ("p1", "p2", "p3"))
    sandbox = _sandbox()
    _provider_side(sandbox, "p1", ok=True, txn="T1")
    _provider_side(sandbox, "p2", ok=False, txn="T2")
    _provider_side(sandbox, "p3", ok=True, txn="T3")
    store, inserted, found = await _import_and_run(pg_engine, sandbox, tmp_path)
    _, inserted_again, found_again = await _import_and_run(pg_engine, sandbox, tmp_path)
    (run,) = await store.runs("mtn", DAY)
    assert (inserted, found) == (3, 0)
    assert (inserted_again, found_again) == (0, 0)
    assert (
        run.lines,
        run.attempts,
        run.runs,
        {k: v for k, v in run.counts.items() if v},
    ) == (3, 3, 2, {"matched": 3})


async def test_each_discrepancy_is_classified(pg_engine: AsyncEngine, tmp_path: Path) -> None:
    """Unknown reference, changed amount, other charges, a success we hold unknown, one unlisted."""
    await _store_ours(pg_engine, ("p1", "p2", "p3", "p4"))
    sandbox = _sandbox()
    _provider_side(sandbox, "p1", ok=True, txn="T1", charges=25)  # charges differ
    _provider_side(sandbox, "p3", ok=True, txn="T3", amount=1300)  # amount changed
    _provider_side(sandbox, "p4", ok=True, txn="T4")  # a success we never heard of
    _provider_side(sandbox, "zz", ok=True, txn="T9")  # a reference we never sent
    store, _, found = await _import_and_run(pg_engine, sandbox, tmp_path)
    rows = await store.exceptions(provider="mtn", day=DAY)
    assert found == 4
    assert {r["key"]: r["match_class"] for r in rows} == {
        "line:T1": "fee_mismatch",
        "line:T3": "amount_mismatch",
        "line:T4": "status_mismatch",
        "line:T9": "missing_at_us",
    }
    assert await store.open_counts() == {
        "fee_mismatch": 1,
        "amount_mismatch": 1,
        "status_mismatch": 1,
        "missing_at_us": 1,
        "missing_at_provider": 0,
    }


async def test_confirmed_but_unlisted_then_resolved(pg_engine: AsyncEngine, tmp_path: Path) -> None:
    """We hold a success the provider does not list; an operator resolves it once, with a note."""
    await _store_ours(pg_engine, ("p1",))
    store, _, found = await _import_and_run(pg_engine, _sandbox(), tmp_path)
    run_id = run_id_for("mtn", DAY)
    done = await store.resolve(run_id, "attempt:ref-p1", actor="ops-1", note="ticket 9", now=T0)
    _, _, found_again = await _import_and_run(pg_engine, _sandbox(), tmp_path)
    rows = await store.exceptions(provider="mtn", include_resolved=True)
    assert found == 1
    assert done is not None
    assert (done["resolved_by"], done["resolution_note"]) == ("ops-1", "ticket 9")
    assert await store.exceptions(provider="mtn") == []
    assert [(r["key"], r["match_class"], r["resolved_by"]) for r in rows] == [
        ("attempt:ref-p1", "missing_at_provider", "ops-1")
    ]
    assert found_again == 1


def _cli(pg_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["reconcile", *args], env={"DATABASE_URL": pg_url})
    return result.exit_code, result.output


def test_cli_imports_a_file_and_lists_the_exception(pg_url: str, tmp_path: Path) -> None:
    """`synccash reconcile --file` stages, matches, exits 1 on an exception and lists it."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    asyncio.run(_fresh(engine))
    sandbox = _sandbox(days_later=30)  # a day with no attempts of other tests
    _provider_side(sandbox, "zz", ok=True, txn="T9")
    day = sandbox.now().date().isoformat()
    path = tmp_path / "mtn.csv"
    path.write_text(statement_csv(sandbox, sandbox.now().date()), encoding="utf-8")
    code, out = _cli(pg_url, "--provider", "mtn", "--date", day, "--file", str(path))
    listed, shown = _cli(pg_url, "exceptions", "--date", day, "--json")
    assert code == 1
    assert "missing_at_us=1" in out
    assert listed == 0
    assert [row["key"] for row in json.loads(shown)] == ["line:T9"]


def test_cli_refuses_a_bad_file_in_one_line(pg_url: str, tmp_path: Path) -> None:
    """A report that is not the provider's shape: one line naming the line, exit 2."""
    path = tmp_path / "bad.csv"
    path.write_text("Date,Status\n", encoding="utf-8")
    code, out = _cli(pg_url, "--provider", "mtn", "--date", "2026-03-02", "--file", str(path))
    bad_day, _ = _cli(pg_url, "--provider", "mtn", "--date", "yesterday")
    assert (code, bad_day) == (2, 2)
    assert "line 1: missing column" in out


async def _fresh(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE statement_lines, reconciliation_runs, reconciliation_items")
        )
    await engine.dispose()
