"""`synccash blocklist add|list|remove`: the fraud blocklist on DATABASE_URL, every change audited."""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
import typer
from rich.table import Table

from synccash.adapters.risk_ops import BlockEntry, RiskOperations
from synccash.adapters.settings import Settings
from synccash.cli._console import console
from synccash.cli._errors import CliError
from synccash.cli._settings import load_settings
from synccash.core.msisdn import Msisdn
from synccash.core.payment import ACCOUNT_KEY_PREFIX

app = typer.Typer(
    name="blocklist",
    help="The fraud blocklist: MSISDNs and payee keys the fraud rules block (changes audited).",
    no_args_is_help=True,
)
T = TypeVar("T")
Entry = Annotated[
    str, typer.Argument(help="An MSISDN (any usual form; stored as 233…) or acct:<account>.")
]
Actor = Annotated[
    str | None,
    typer.Option(help="Who makes the change (default: cli:<login name>).", show_default=False),
]


def _entry(raw: str) -> str:
    text = raw.strip()
    if text.startswith(ACCOUNT_KEY_PREFIX):
        account = text.removeprefix(ACCOUNT_KEY_PREFIX).strip()
        if not account:
            raise CliError("acct: needs an account name", exit_code=2)
        return ACCOUNT_KEY_PREFIX + account
    return Msisdn.parse(text).e164  # InvalidMsisdn: one line, exit 2


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


async def _with_ops(settings: Settings, work: Callable[[RiskOperations], Awaitable[T]]) -> T:
    from synccash.adapters import sql  # noqa: PLC0415  (only the commands that need it)

    url = settings.database_url
    try:
        if url.startswith("sqlite"):
            Path(url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
            await sql.migrate(url)
        engine = sql.create_engine_from_settings(settings)
        try:
            await sql.check_schema(engine)
            return await work(sql.SqlRiskOperations(engine))
        finally:
            await engine.dispose()
    except sql.DatabaseError as exc:
        raise CliError(str(exc)) from None


def _run(work: Callable[[RiskOperations], Awaitable[T]]) -> T:
    settings = load_settings()
    return anyio.run(_with_ops, settings, work)


@app.command(
    "add",
    epilog="Examples:\n\n  synccash blocklist add 0241234567 --reason 'reported mule'\n\n"
    "  synccash blocklist add acct:shop-99 --reason 'chargebacks'",
)
def add(
    entry: Entry,
    *,
    reason: Annotated[str, typer.Option(help="Why (kept with the entry).")],
    actor: Actor = None,
) -> None:
    """Block an MSISDN or payee key."""
    block = BlockEntry(_entry(entry), reason.strip())
    if not block.reason:
        raise CliError("--reason must not be empty", exit_code=2)
    now = datetime.now(UTC)
    added = _run(lambda ops: ops.block(block, _actor(actor), now))
    console.print(f"{block.entry}: {'blocked' if added else 'already blocked'}", highlight=False)


@app.command(
    "remove",
    epilog="Examples:\n\n  synccash blocklist remove 0241234567\n\n"
    "  synccash blocklist remove acct:shop-99 --actor risk-team",
)
def remove(entry: Entry, *, actor: Actor = None) -> None:
    """Unblock an MSISDN or payee key (exit 1 when it was not blocked)."""
    key = _entry(entry)
    now = datetime.now(UTC)
    if not _run(lambda ops: ops.unblock(key, _actor(actor), now)):
        raise CliError(f"{key} is not on the blocklist")
    console.print(f"{key}: unblocked", highlight=False)


@app.command("list", epilog="Examples:\n\n  synccash blocklist list")
def list_entries() -> None:
    """Every blocklist entry with its reason."""
    entries = _run(lambda ops: ops.blocklist())
    table = Table(title="blocklist")
    table.add_column("entry")
    table.add_column("reason")
    for item in entries:
        table.add_row(item.entry, item.reason)
    console.print(table)
