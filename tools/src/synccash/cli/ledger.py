"""`synccash ledger balance|statement|topup|verify`: the books, read from the database.

These are operator commands: they open DATABASE_URL directly (no API, no token).
"""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql import SqlLedger, make_engine
from synccash.chaos._ledger import movements, stored_payments
from synccash.cli._console import console
from synccash.cli._errors import CliError, usage_error
from synccash.cli._output import print_json, table
from synccash.cli._settings import load_settings
from synccash.core.ledger import (
    balance_of,
    merchant_accounts,
    provider_accounts,
    topup_entry,
)
from synccash.core.ledger_verify import ProviderMovement, verify_books
from synccash.core.money import Money
from synccash.core.ports import EntryQuery
from synccash.core.providers import ProviderId

app = typer.Typer(
    name="ledger",
    help="The double-entry books: balances, statements, float top-ups, verification.",
    no_args_is_help=True,
)

_PROVIDERS = ("mtn", "airteltigo", "telecel")


def _engine() -> AsyncEngine:
    return make_engine(load_settings().database_url, pool_size=2, max_overflow=0)


async def _with_ledger(work: Any) -> Any:
    engine = _engine()
    try:
        return await work(engine, SqlLedger(engine))
    finally:
        await engine.dispose()


@app.command(
    "balance",
    epilog=(
        "Examples:\n\n  synccash ledger balance --merchant shop-42\n\n"
        "  synccash ledger balance --provider mtn\n\n  synccash ledger balance --all --json"
    ),
)
def balance(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="A merchant's balances.")
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="SyncCash's accounts at a provider.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every account with postings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Balances on each account's normal side (a merchant's: available and reserved)."""
    if sum((merchant is not None, provider is not None, every)) != 1:
        usage_error("give exactly one of --merchant, --provider or --all")

    async def read(_: AsyncEngine, ledger: SqlLedger) -> dict[str, Money]:
        if every:
            return {a: m for (a, _c), m in (await ledger.balances()).items()}
        names = (
            merchant_accounts(merchant.strip())
            if merchant is not None
            else provider_accounts(ProviderId.parse(provider or ""))
        )
        return {name: await ledger.balance(name) for name in names}

    balances = asyncio.run(_with_ledger(read))
    if as_json:
        print_json({a: m.to_decimal_string() for a, m in balances.items()})
        return
    rows = [[a, m.to_decimal_string()] for a, m in balances.items()]
    console.print(table("balances (GHS)", ["account", "balance"], rows))


def _statement_rows(items: Sequence[Any], accounts: tuple[str, ...]) -> list[list[str]]:
    return [
        [
            str(s.position),
            s.at.isoformat(),
            s.entry.kind.value,
            s.entry.reference,
            s.entry.payment_id or "",
            p.account.rsplit(":", 1)[-1],
            balance_of(p.account, p.amount.minor, p.amount.currency).to_decimal_string(),
        ]
        for s in items
        for p in s.entry.postings
        if p.account in accounts
    ]


@app.command(
    "statement",
    epilog=(
        "Examples:\n\n  synccash ledger statement --merchant shop-42\n\n"
        "  synccash ledger statement --merchant shop-42 --csv > statement.csv"
    ),
)
def statement(
    merchant: Annotated[str, typer.Option("--merchant", "-m", help="Merchant id.")],
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="Entries at most.")
    ] = 1000,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """A merchant's statement: every posting on its available and reserved balances, oldest first."""
    if not merchant.strip():
        usage_error("--merchant must not be empty")
    accounts = merchant_accounts(merchant.strip())

    async def read(_: AsyncEngine, ledger: SqlLedger) -> list[list[str]]:
        page = await ledger.entries(EntryQuery(accounts=accounts, limit=limit))
        return _statement_rows(page.items, accounts)

    rows = asyncio.run(_with_ledger(read))
    header = ["position", "at", "kind", "reference", "payment_id", "account", "amount"]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    console.print(table(f"statement of {merchant.strip()} (GHS)", header, rows))


@app.command(
    "topup",
    epilog="Examples:\n\n  synccash ledger topup --provider telecel --amount 50000 --key ops-2026-12-08-1",
)
def topup(
    provider: Annotated[str, typer.Option("--provider", "-p", help="mtn, airteltigo or telecel.")],
    amount: Annotated[str, typer.Option("--amount", "-a", help="GHS, e.g. 50000 or 1250.50.")],
    key: Annotated[str, typer.Option("--key", help="Unique per top-up: the same key posts once.")],
) -> None:
    """Record money moved into SyncCash's disbursement float at a provider."""
    if not key.strip():
        usage_error("--key must not be empty")
    chosen = ProviderId.parse(provider)
    entry = topup_entry(f"topup:{key.strip()}", chosen, Money.parse(amount))

    async def post(_: AsyncEngine, ledger: SqlLedger) -> Money:
        await ledger.post([entry], datetime.now(UTC))
        return await ledger.balance(provider_accounts(chosen)[1])

    now = asyncio.run(_with_ledger(post))
    console.print(f"{chosen.value} float: {now.to_decimal_string()} GHS")


async def _movements(sandbox_url: str) -> list[ProviderMovement]:
    ledgers: dict[str, list[dict[str, Any]]] = {}
    originals: dict[str, dict[str, str]] = {}
    async with httpx.AsyncClient(base_url=sandbox_url.rstrip("/"), timeout=30) as http:
        for provider in _PROVIDERS:
            ledger = (await http.get(f"/{provider}/_admin/ledger")).raise_for_status().json()
            sent = (await http.get(f"/{provider}/_admin/transactions")).raise_for_status().json()
            ledgers[provider] = ledger["entries"]
            originals[provider] = {
                t["reference"]: t["original_reference"]
                for t in sent["transactions"]
                if t["kind"] == "refund" and t["original_reference"]
            }
    return movements(ledgers, originals)


@app.command(
    "verify",
    epilog=(
        "Examples:\n\n  synccash ledger verify\n\n"
        "  synccash ledger verify --sandbox-url http://127.0.0.1:8100"
    ),
)
def verify(
    sandbox_url: Annotated[
        str | None,
        typer.Option(
            "--sandbox-url",
            help="Also match every movement in the sandboxes' own ledgers (synccash sandbox run).",
        ),
    ] = None,
) -> None:
    """Recompute the books from their postings; exit 1 with the list of differences."""

    async def check(engine: AsyncEngine, ledger: SqlLedger) -> tuple[list[str], int]:
        postings = await ledger.stored_postings()
        payments = await stored_payments(engine)
        movements = await _movements(sandbox_url) if sandbox_url else None
        found = verify_books(postings, await ledger.stored_balances(), payments, movements)
        return found, len(payments)

    try:
        differences, count = asyncio.run(_with_ledger(check))
    except httpx.HTTPError as exc:
        raise CliError(f"cannot read the sandbox ledgers at {sandbox_url}: {exc}") from None
    for line in differences:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"ledger payments={count} ledger_differences={len(differences)}")
    if differences:
        raise typer.Exit(1)
