"""`synccash pay …` and `synccash report daily`: a small client of a running SyncCash API."""

import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

import typer

from synccash.cli._client import DEFAULT_API_URL, TOKEN_ENV, ApiClient, resolve_token
from synccash.cli._console import console, err_console
from synccash.cli._errors import EXIT_RUNTIME, CliError, usage_error
from synccash.cli._output import print_json, table
from synccash.cli._wallets import WALLET_HELP, parse_wallets

app = typer.Typer(
    name="pay", help="Create and follow payments through a running API.", no_args_is_help=True
)
report_app = typer.Typer(
    name="report", help="Merchant reports from a running API.", no_args_is_help=True
)

ApiUrl = Annotated[
    str, typer.Option("--api-url", envvar="SYNCCASH_API_URL", help="Base URL of the SyncCash API.")
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", help=f"Merchant bearer token (default: ${TOKEN_ENV}).", show_default=False
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
PaymentId = Annotated[
    str, typer.Argument(help="The payment id (from `pay initiate` or `pay list`).")
]

_TERMINAL: Final = frozenset({"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED"})
#: Final states in which the money did not move: `--wait` exits 1 on them (scripts can check).
_UNSUCCESSFUL: Final = frozenset({"FAILED", "EXPIRED", "CANCELLED"})


def _client(api_url: str, token: str | None) -> ApiClient:
    return ApiClient(api_url, resolve_token(token))


def _show_payment(payment: dict[str, Any], title: str) -> None:
    rows: list[tuple[str, Any]] = [
        (key, payment.get(key))
        for key in (
            "id",
            "state",
            "amount",
            "currency",
            "provider",
            "fee",
            "failure_code",
            "failure_reason",
            "created_at",
            "updated_at",
        )
        if key in payment
    ]
    attempts = payment.get("attempts") or []
    rows.append(("attempts", len(attempts)))
    console.print(table(title, ("field", "value"), rows))


@app.command(
    "initiate",
    epilog=(
        "Examples:\n\n"
        "  synccash pay initiate --amount 12.50 --payer 0241234567 --payee 0551234567\n\n"
        "  synccash pay initiate --amount 250 --payer 0241234567 "
        "--wallet mtn:0241234567=500 --wallet telecel:0201234567 "
        "--merchant-account shop-42 --wait"
    ),
)
def initiate(
    *,
    amount: Annotated[str, typer.Option(help='Amount in GHS as a decimal string, e.g. "12.50".')],
    payer: Annotated[str, typer.Option(help="Payer MSISDN, e.g. 0241234567.")],
    payee: Annotated[
        str | None, typer.Option(help="Payee wallet MSISDN (any network).", show_default=False)
    ] = None,
    merchant_account: Annotated[
        str | None,
        typer.Option(help="Or: the merchant's own collection account.", show_default=False),
    ] = None,
    wallet: Annotated[list[str] | None, typer.Option(help=WALLET_HELP, show_default=False)] = None,
    description: Annotated[str, typer.Option(help="Shown to the payer where supported.")] = "",
    reference: Annotated[
        str | None, typer.Option(help="Your own order reference.", show_default=False)
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to POST signed status webhooks.", show_default=False)
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Idempotency-Key (default: a new UUID).", show_default=False)
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Poll the status until the payment is final; exit 1 if it ends FAILED, "
            "EXPIRED or CANCELLED.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after seconds.", min=1)] = 60,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Create a payment (POST /api/v1/payments/initiate)."""
    if (payee is None) == (merchant_account is None):
        usage_error("give exactly one of --payee or --merchant-account")
    wallets = parse_wallets(wallet)
    body: dict[str, Any] = {
        "amount": amount,
        "payer": {"msisdn": payer},
        "payee": {"msisdn": payee} if payee is not None else {"merchant_account": merchant_account},
        "description": description,
    }
    if wallets:
        body["payer"]["wallets"] = [
            {"provider": w.provider, "msisdn": w.msisdn}
            | ({"balance": w.balance} if w.balance is not None else {})
            for w in wallets
        ]
    if reference is not None:
        body["reference"] = reference
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    with _client(api_url, token) as client:
        payment = client.initiate(body, idempotency_key)
        if wait:
            payment = _wait(client, payment["id"], timeout)
    if as_json:
        print_json(payment)
    else:
        _show_payment(payment, "payment")
    if wait and payment.get("state") in _UNSUCCESSFUL:
        raise typer.Exit(EXIT_RUNTIME)  # the payment is shown above, with its failure reason


def _wait(client: ApiClient, payment_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = client.status(payment_id)
        if status.get("state") != last:
            last = status.get("state")
            err_console.print(f"{payment_id}: {last}")
        if last in _TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise CliError(f"payment {payment_id} still {last} after {timeout:.0f}s")
        time.sleep(0.5)


@app.command(
    "status",
    epilog="Example:\n\n  synccash pay status 0f8c…  --json",
)
def status(
    *,
    payment_id: PaymentId,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Show a payment's state, provider and attempts (GET …/status)."""
    with _client(api_url, token) as client:
        result = client.status(payment_id)
    if as_json:
        print_json(result)
    else:
        _show_payment(result, "status")


@app.command("cancel", epilog="Example:\n\n  synccash pay cancel 0f8c…")
def cancel(
    *,
    payment_id: PaymentId,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Cancel a payment while nothing is at a provider (POST …/cancel)."""
    with _client(api_url, token) as client:
        result = client.cancel(payment_id)
    if as_json:
        print_json(result)
    else:
        _show_payment(result, "cancelled")


@app.command(
    "list",
    epilog="Examples:\n\n  synccash pay list\n\n  synccash pay list --state CONFIRMED --provider mtn --limit 20",
)
def list_payments(
    *,
    state: Annotated[str | None, typer.Option(help="Only this state.", show_default=False)] = None,
    provider: Annotated[
        str | None, typer.Option(help="Only this provider.", show_default=False)
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Only this merchant reference.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="Page size.", min=1, max=200)] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="Next-page cursor.", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """List the merchant's payments, newest first (GET /api/v1/payments)."""
    filters = {"state": state, "provider": provider, "reference": reference, "cursor": cursor}
    params = {"limit": str(limit)} | {k: v for k, v in filters.items() if v is not None}
    with _client(api_url, token) as client:
        page = client.list(params)
    if as_json:
        print_json(page)
        return
    rows = [
        (p.get("id"), p.get("state"), p.get("amount"), p.get("provider"), p.get("created_at"))
        for p in page.get("items", [])
    ]
    console.print(
        table(
            "payments",
            ("id", "state", "amount (GHS)", "provider", "created_at"),
            rows,
            numeric=("amount (GHS)",),
        )
    )
    if page.get("next_cursor"):
        err_console.print(f"more: --cursor {page['next_cursor']}")


@report_app.command(
    "daily",
    epilog="Examples:\n\n  synccash report daily --date 2026-11-26\n\n  synccash report daily --json",
)
def daily(
    *,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Day (UTC) as YYYY-MM-DD; default today.", show_default=False),
    ] = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """The merchant's daily report: counts and sums by state and provider."""
    if day is None:
        day = datetime.now(UTC).date().isoformat()  # reports are by UTC day
    try:
        date.fromisoformat(day)
    except ValueError:
        usage_error(f"--date must be YYYY-MM-DD, got {day!r}")
    with _client(api_url, token) as client:
        report = client.daily_report(day)
    if as_json:
        print_json(report)
        return
    console.print(
        f"{report.get('merchant_id')} on {report.get('date')}: {report.get('total_count')} payments, "
        f"GHS {report.get('total_amount')} ({report.get('confirmed_count')} confirmed, "
        f"success {float(report.get('success_rate') or 0):.1%}), fees GHS {report.get('total_fees')}"
    )
    for name in ("by_state", "by_provider"):
        buckets = report.get(name) or {}
        rows = [(k, b.get("count"), b.get("amount"), b.get("fees")) for k, b in buckets.items()]
        amounts = ("count", "amount (GHS)", "fees (GHS)")
        console.print(table(name, (name[3:], *amounts), rows, numeric=amounts))
