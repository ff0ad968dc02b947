"""`synccash payout …`: pay out from the merchant's balance to a wallet, through a running API."""

from typing import Annotated, Any

import typer

from synccash.cli._client import DEFAULT_API_URL, ApiClient, resolve_token
from synccash.cli._console import console, err_console
from synccash.cli._output import print_json, table
from synccash.cli.pay import ApiUrl, Json, Token

app = typer.Typer(
    name="payout",
    help="Pay out from your balance to any wallet, and follow payouts, through a running API.",
    no_args_is_help=True,
)

PayoutId = Annotated[str, typer.Argument(help="The payout id (from `payout create` or `list`).")]


def _client(api_url: str, token: str | None) -> ApiClient:
    return ApiClient(api_url, resolve_token(token))


def _show(payout: dict[str, Any], title: str) -> None:
    keys = ("id", "state", "amount", "currency", "provider", "failure_code", "failure_reason")
    rows: list[tuple[str, Any]] = [(key, payout.get(key)) for key in keys if key in payout]
    payee = payout.get("payee") or {}
    rows.insert(1, ("payee", payee.get("msisdn")))
    rows += [("created_at", payout.get("created_at")), ("updated_at", payout.get("updated_at"))]
    for attempt in payout.get("attempts") or []:
        rows.append(
            (
                f"leg {attempt.get('seq')}",
                f"{attempt.get('kind')} {attempt.get('provider')} {attempt.get('status')}",
            )
        )
    console.print(table(title, ("field", "value"), rows))


@app.command(
    "create",
    epilog=(
        "Examples:\n\n"
        "  synccash payout create --amount 25.00 --payee 0551234567\n\n"
        "  synccash payout create --amount 100 --payee 0201234567 --provider telecel "
        '--expected-name "Ama Owusu" --reference wages-7'
    ),
)
def create(
    *,
    amount: Annotated[str, typer.Option(help='Amount in GHS as a decimal string, e.g. "25.00".')],
    payee: Annotated[str, typer.Option(help="The wallet MSISDN to pay (any network).")],
    provider: Annotated[
        str | None,
        typer.Option(
            help="The payee's network (mtn, airteltigo, telecel); default: by its number.",
            show_default=False,
        ),
    ] = None,
    expected_name: Annotated[
        str | None,
        typer.Option(
            help="Refuse (name_mismatch) unless the wallet is held under this name.",
            show_default=False,
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="Shown to the payee where supported.")] = "",
    reference: Annotated[
        str | None, typer.Option(help="Your own reference.", show_default=False)
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Idempotency-Key (default: a new UUID).", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Create a payout (POST /api/v1/payouts): reserved from your available balance now."""
    optional = {"provider": provider, "expected_name": expected_name, "reference": reference}
    body: dict[str, Any] = {
        "amount": amount,
        "payee": {"msisdn": payee},
        "description": description,
        **{key: value for key, value in optional.items() if value is not None},
    }
    with _client(api_url, token) as client:
        payout = client.create_payout(body, idempotency_key)
    if as_json:
        print_json(payout)
    else:
        _show(payout, "payout")


@app.command("get", epilog="Example:\n\n  synccash payout get 0f8c… --json")
def get(
    *,
    payout_id: PayoutId,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Show a payout, its leg and state (GET /api/v1/payouts/{id})."""
    with _client(api_url, token) as client:
        payout = client.payout(payout_id)
    if as_json:
        print_json(payout)
    else:
        _show(payout, "payout")


@app.command("cancel", epilog="Example:\n\n  synccash payout cancel 0f8c…")
def cancel(
    *,
    payout_id: PayoutId,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Cancel a payout while nothing is at a provider (POST …/cancel)."""
    with _client(api_url, token) as client:
        payout = client.cancel_payout(payout_id)
    if as_json:
        print_json(payout)
    else:
        _show(payout, "cancelled")


@app.command(
    "list",
    epilog="Examples:\n\n  synccash payout list\n\n  synccash payout list --state CONFIRMED --limit 20",
)
def list_payouts(
    *,
    state: Annotated[str | None, typer.Option(help="Only this state.", show_default=False)] = None,
    reference: Annotated[
        str | None, typer.Option(help="Only this reference.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="Page size.", min=1, max=200)] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="Next-page cursor.", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """List your payouts, newest first (GET /api/v1/payouts)."""
    filters = {"state": state, "reference": reference, "cursor": cursor}
    params = {"limit": str(limit)} | {k: v for k, v in filters.items() if v is not None}
    with _client(api_url, token) as client:
        page = client.payouts(params)
    if as_json:
        print_json(page)
        return
    rows = [
        (
            p.get("id"),
            p.get("state"),
            p.get("amount"),
            (p.get("payee") or {}).get("msisdn"),
            p.get("provider"),
            p.get("created_at"),
        )
        for p in page.get("items", [])
    ]
    columns = ("id", "state", "amount (GHS)", "payee", "provider", "created_at")
    console.print(table("payouts", columns, rows, numeric=("amount (GHS)",)))
    if page.get("next_cursor"):
        err_console.print(f"more: --cursor {page['next_cursor']}")
