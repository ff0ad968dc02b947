"""`synccash merchant …` and `synccash apikey …`: the merchant registry and API keys.

Both work on the database of `DATABASE_URL` directly (an operator's tool, like `migrate`);
on the embedded SQLite default the file is migrated first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import typer
from attrs import evolve

from synccash.adapters import sql
from synccash.adapters.bootstrap import build_api_keys
from synccash.adapters.clock import SystemClock
from synccash.adapters.merchants import (
    ApiKey,
    ApiKeys,
    Merchant,
    MerchantNotFound,
    MerchantStatus,
    check_merchant_id,
)
from synccash.api.auth import ALL_SCOPES
from synccash.cli._console import console, err_console
from synccash.cli._errors import usage_error
from synccash.cli._output import print_json, table
from synccash.cli._settings import load_settings

merchant_app = typer.Typer(
    name="merchant", help="The merchant registry (on DATABASE_URL).", no_args_is_help=True
)
apikey_app = typer.Typer(
    name="apikey",
    help="Merchants' API keys: shown once, stored as keyed hashes.",
    no_args_is_help=True,
)

_SCOPES = ", ".join(s.value for s in ALL_SCOPES)
_T = TypeVar("_T")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@asynccontextmanager
async def _open_keys() -> AsyncIterator[ApiKeys]:
    settings = load_settings()
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        await sql.migrate(settings.database_url)
    engine = sql.create_engine_from_settings(settings)
    try:
        await sql.check_schema(engine)
        yield build_api_keys(settings, sql.SqlMerchantRegistry(engine), SystemClock())
    finally:
        await engine.dispose()


def _run(action: Callable[[ApiKeys], Awaitable[_T]]) -> _T:
    async def main() -> _T:
        async with _open_keys() as keys:
            return await action(keys)

    return anyio.run(main)


def _merchant_doc(m: Merchant) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "status": m.status.value,
        "accounts": list(m.accounts),
        "created_at": m.created_at.isoformat(),
    }


@merchant_app.command(
    "create",
    epilog=(
        "Examples:\n\n  synccash merchant create shop-42 --name 'Shop 42'\n\n"
        "  synccash merchant create shop-42 --name 'Shop 42' --account shop-42-till"
    ),
)
def create_merchant(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id (JWT merchant claim).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="A sub-account it may also collect into; repeat."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a merchant (active)."""
    check_merchant_id(merchant_id)
    accounts = tuple(check_merchant_id(a) for a in account or ())

    async def action(keys: ApiKeys) -> Merchant:
        merchant = Merchant(
            merchant_id,
            name or merchant_id,
            MerchantStatus.ACTIVE,
            SystemClock().now(),
            accounts=accounts,
        )
        await keys.registry.add_merchant(merchant)
        return merchant

    merchant = _run(action)
    _print_merchants([merchant], as_json=as_json)


@merchant_app.command("list", epilog="Examples:\n\n  synccash merchant list --json")
def list_merchants(as_json: JsonFlag = False) -> None:
    """Every registered merchant."""

    async def action(keys: ApiKeys) -> list[Merchant]:
        return list(await keys.registry.merchants())

    _print_merchants(_run(action), as_json=as_json)


def _print_merchants(merchants: list[Merchant], *, as_json: bool) -> None:
    if as_json:
        print_json([_merchant_doc(m) for m in merchants])
        return
    rows = [
        (m.id, m.name, m.status.value, " ".join(m.accounts), m.created_at.isoformat())
        for m in merchants
    ]
    console.print(table("merchants", ("id", "name", "status", "accounts", "created_at"), rows))


@merchant_app.command("disable", epilog="Examples:\n\n  synccash merchant disable shop-42")
def disable_merchant(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id.")],
) -> None:
    """Disable a merchant: its API keys and tokens are refused (403 merchant_disabled)."""

    async def action(keys: ApiKeys) -> None:
        merchant = await keys.registry.merchant(merchant_id)
        if merchant is None:
            raise MerchantNotFound(f"no merchant {merchant_id!r}")
        await keys.registry.update_merchant(evolve(merchant, status=MerchantStatus.DISABLED))

    _run(action)
    err_console.print(f"merchant {merchant_id} disabled (other processes: within 10 s)")


def _key_doc(k: ApiKey) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": k.id,
        "merchant_id": k.merchant_id,
        "prefix": k.prefix,
        "scopes": sorted(k.scopes),
        "label": k.label,
        "created_at": iso(k.created_at),
        "expires_at": iso(k.expires_at),
        "revoked_at": iso(k.revoked_at),
        "last_used_at": iso(k.last_used_at),
    }


@apikey_app.command(
    "create",
    epilog=(
        "Examples:\n\n  synccash apikey create --merchant shop-42\n\n"
        "  synccash apikey create --merchant shop-42 --scope payments:read --expires-days 90\n\n"
        '  export SYNCCASH_TOKEN="$(synccash apikey create --merchant shop-42 | tail -n1)"'
    ),
)
def create_key(
    merchant: Annotated[str, typer.Option("--merchant", "-m", help="A registered merchant.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help=f"Scope to grant; repeat. Default: all ({_SCOPES})."),
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Expire after this many days.")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
) -> None:
    """Create an API key; it is shown once, alone on the last line of stdout."""
    scopes = tuple(scope) if scope else tuple(s.value for s in ALL_SCOPES)
    known = {s.value for s in ALL_SCOPES}  # merchant scopes only: no `ops` on a merchant's key
    unknown = [s for s in scopes if s not in known]
    if unknown:
        usage_error(f"unknown scope {unknown[0]!r}; use one of: {_SCOPES}")
    expires = None if expires_days is None else SystemClock().now() + timedelta(days=expires_days)
    issued = _run(lambda keys: keys.issue(merchant, scopes, expires_at=expires, label=label))
    record = issued.record
    err_console.print(
        f"api key {record.id} for {record.merchant_id} scopes={' '.join(sorted(record.scopes))} "
        f"expires={record.expires_at.isoformat() if record.expires_at else 'never'} "
        "(shown once: store it now)"
    )
    console.print(issued.secret, markup=False, highlight=False, soft_wrap=True)


@apikey_app.command("list", epilog="Examples:\n\n  synccash apikey list --merchant shop-42")
def list_keys(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Only this merchant's keys.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """API keys (their prefixes and history, never the keys)."""

    async def action(keys: ApiKeys) -> list[ApiKey]:
        return list(await keys.registry.keys(merchant))

    found = _run(action)
    if as_json:
        print_json([_key_doc(k) for k in found])
        return
    columns = ("id", "merchant", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at")
    rows = [
        (
            d["id"],
            d["merchant_id"],
            d["prefix"] + "…",
            " ".join(d["scopes"]),
            d["expires_at"],
            d["revoked_at"],
            d["last_used_at"],
        )
        for d in map(_key_doc, found)
    ]
    console.print(table("api keys", columns, rows))


@apikey_app.command("revoke", epilog="Examples:\n\n  synccash apikey revoke key_0123456789abcdef")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key's id (apikey list).")]) -> None:
    """Revoke an API key (refused from then on; other processes: within 10 s)."""
    revoked = _run(lambda keys: keys.revoke(key_id))
    at = revoked.revoked_at.isoformat() if revoked.revoked_at else ""
    err_console.print(f"api key {revoked.id} of {revoked.merchant_id} revoked at {at}")
