"""`synccash reconcile`: provider statements against our attempts, and the exceptions left.

Operator commands: they open DATABASE_URL directly (no API, no token). A statement comes from
a file (`--file`) or, in sandbox mode, from the sandbox's report endpoint (`--sandbox-url`),
streamed to a temporary file and parsed line by line (never loaded whole).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql import (
    ImportResult,
    ItemAlreadyResolved,
    RunSummary,
    SqlReconciliation,
    make_engine,
)
from synccash.cli._console import console
from synccash.cli._errors import CliError, usage_error
from synccash.cli._output import print_json, table
from synccash.cli._settings import load_settings
from synccash.core.reconcile import MatchClass
from synccash.core.statements import StatementError, parse_statement

app = typer.Typer(
    name="reconcile",
    help="Match a provider's daily statement with our attempts; list and resolve exceptions.",
    invoke_without_command=True,
)

_PROVIDERS = ("mtn", "airteltigo", "telecel")
T = TypeVar("T")


def _engine() -> AsyncEngine:
    return make_engine(load_settings().database_url, pool_size=2, max_overflow=0)


def _with_store(work: Callable[[SqlReconciliation], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = _engine()
        try:
            return await work(SqlReconciliation(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _provider(value: str) -> str:
    chosen = value.strip().lower()
    if chosen not in _PROVIDERS:
        usage_error(f"--provider must be one of {', '.join(_PROVIDERS)} (got {value!r})")
    return chosen


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        usage_error(f"--date must be YYYY-MM-DD (got {value!r})")


def _download(sandbox_url: str, provider: str, day: date, into: Path) -> None:
    url = f"{sandbox_url.rstrip('/')}/{provider}/_admin/statement"
    try:
        with (
            httpx.stream("GET", url, params={"date": day.isoformat()}, timeout=60) as response,
            into.open("wb") as out,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                out.write(chunk)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot read the {provider} statement at {url}: {exc}") from None


def import_statement(
    provider: str, day: date, path: Path, store_work: Callable[..., Any] = _with_store
) -> ImportResult:
    """Stage a statement file (streamed line by line)."""

    async def stage(store: SqlReconciliation) -> ImportResult:
        with path.open(encoding="utf-8", newline="") as lines:
            return await store.import_lines(
                provider, day, parse_statement(provider, lines), datetime.now(UTC)
            )

    try:
        result: ImportResult = store_work(stage)
    except StatementError as exc:
        raise CliError(f"{path}: {exc}", exit_code=2) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", exit_code=2) from None
    return result


def _stage(provider: str, day: date, file: Path | None, sandbox_url: str | None) -> ImportResult:
    if file is not None:
        return import_statement(provider, day, file)
    assert sandbox_url is not None  # noqa: S101 - checked by the caller
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{provider}-{day.isoformat()}.csv"
        _download(sandbox_url, provider, day, path)
        return import_statement(provider, day, path)


def _print_run(summary: RunSummary, imported: ImportResult | None) -> None:
    if imported is not None:
        console.print(f"statement lines_read={imported.read} lines_new={imported.inserted}")
    counts = " ".join(f"{k}={v}" for k, v in summary.counts.items())
    console.print(
        f"reconcile provider={summary.provider} date={summary.statement_date.isoformat()} "
        f"lines={summary.lines} attempts={summary.attempts} {counts} "
        f"exceptions={summary.exceptions} run={summary.runs}",
        highlight=False,
        soft_wrap=True,
    )


@app.callback(
    epilog=(
        "Examples:\n\n  synccash reconcile --provider mtn --date 2026-12-08 --file mtn.csv\n\n"
        "  synccash reconcile --provider telecel --date 2026-12-08 "
        "--sandbox-url http://127.0.0.1:8100\n\n"
        "  synccash reconcile --provider mtn --date 2026-12-08   (re-match what is staged)"
    ),
)
def reconcile(  # noqa: PLR0917 - one option per input
    ctx: typer.Context,
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="mtn, airteltigo or telecel.")
    ] = None,
    day: Annotated[
        str | None, typer.Option("--date", "-d", help="Statement day, YYYY-MM-DD.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The provider's report (CSV) to import.")
    ] = None,
    sandbox_url: Annotated[
        str | None, typer.Option("--sandbox-url", help="Fetch the report from the sandboxes.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Import the day's statement (optional), match it, store the run; exit 1 on exceptions."""
    if ctx.invoked_subcommand is not None:
        return
    if provider is None or day is None:
        usage_error("give --provider and --date (or a subcommand: runs, exceptions, resolve)")
    if file is not None and sandbox_url is not None:
        usage_error("give --file or --sandbox-url, not both")
    chosen, when = _provider(provider), _day(day)
    imported = None
    if file is not None or sandbox_url is not None:
        imported = _stage(chosen, when, file, sandbox_url)
    summary = _with_store(lambda store: store.run(chosen, when, datetime.now(UTC)))
    if as_json:
        print_json(summary.to_json())
    else:
        _print_run(summary, imported)
    if summary.exceptions:
        raise typer.Exit(1)


@app.command("runs", epilog="Examples:\n\n  synccash reconcile runs --provider mtn")
def runs(
    provider: Annotated[str | None, typer.Option("--provider", "-p", help="One provider.")] = None,
    day: Annotated[str | None, typer.Option("--date", "-d", help="One day, YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Stored runs, newest day first."""
    chosen = _provider(provider) if provider is not None else None
    when = _day(day) if day is not None else None
    found = _with_store(lambda store: store.runs(chosen, when))
    if as_json:
        print_json([r.to_json() for r in found])
        return
    rows = [[r.id, str(r.lines), str(r.attempts), str(r.exceptions), str(r.runs)] for r in found]
    console.print(
        table("reconciliation runs", ["run", "lines", "attempts", "exceptions", "runs"], rows)
    )


@app.command(
    "exceptions",
    epilog="Examples:\n\n  synccash reconcile exceptions --class missing_at_us --json",
)
def exceptions(
    provider: Annotated[str | None, typer.Option("--provider", "-p", help="One provider.")] = None,
    day: Annotated[str | None, typer.Option("--date", "-d", help="One day, YYYY-MM-DD.")] = None,
    match_class: Annotated[
        str | None, typer.Option("--class", help="One class, e.g. missing_at_us.")
    ] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open exceptions (every class but matched)."""
    chosen = _provider(provider) if provider is not None else None
    when = _day(day) if day is not None else None
    if match_class is not None and match_class not in {c.value for c in MatchClass}:
        usage_error(f"--class must be one of {', '.join(c.value for c in MatchClass)}")
    found = _with_store(
        lambda store: store.exceptions(
            provider=chosen, day=when, match_class=match_class, include_resolved=include_resolved
        )
    )
    if as_json:
        print_json(found)
        return
    rows = [[i["run_id"], i["key"], i["match_class"], i["detail"]] for i in found]
    console.print(table("reconciliation exceptions", ["run", "key", "class", "detail"], rows))


@app.command(
    "resolve",
    epilog=(
        "Examples:\n\n  synccash reconcile resolve mtn:2026-12-08 line:1000000042 "
        '--note "refunded by hand, ticket OPS-12"'
    ),
)
def resolve(
    run_id: Annotated[str, typer.Argument(help="The run, <provider>:<date>.")],
    key: Annotated[str, typer.Argument(help="The item key (line:<id> or attempt:<reference>).")],
    note: Annotated[str, typer.Option("--note", help="Why it is closed (required).")],
    actor: Annotated[str, typer.Option("--actor", help="Who closes it.")] = "cli",
) -> None:
    """Close an exception with a note (recorded with who and when; write-once)."""
    if not note.strip():
        usage_error("--note must not be empty")

    async def close(store: SqlReconciliation) -> dict[str, Any] | None:
        return await store.resolve(
            run_id, key, actor=actor, note=note.strip(), now=datetime.now(UTC)
        )

    try:
        done = _with_store(close)
    except ItemAlreadyResolved:
        raise CliError(f"{run_id} {key} is already resolved") from None
    if done is None:
        raise CliError(f"no exception {key} in run {run_id}")
    console.print(f"resolved {run_id} {key} by {done['resolved_by']}", highlight=False)
