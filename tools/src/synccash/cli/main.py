"""The `synccash` command line: one Typer app, sub-commands in their own modules."""

from importlib.metadata import version
from typing import Annotated

import typer

from synccash.cli import (
    blocklist,
    ledger,
    merchants,
    pay,
    payout,
    reconcile,
    route,
    run,
    tokens,
)
from synccash.cli._console import console
from synccash.cli._errors import ErrorMappingGroup

app = typer.Typer(
    name="synccash",
    cls=ErrorMappingGroup,
    help=(
        "SyncCash: one API for Ghana's mobile-money wallets (MTN MoMo, AT Money, Telecel Cash).\n\n"
        "Start everything on the embedded default with `synccash serve`."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"synccash {version('synccash-tools')}", highlight=False)
        raise typer.Exit


@app.callback()
def _root(
    *,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """The options of `synccash` itself (before any command)."""


app.add_typer(tokens.app)
app.add_typer(merchants.merchant_app)
app.add_typer(merchants.apikey_app)
app.add_typer(pay.app)
app.add_typer(pay.report_app)
app.add_typer(payout.app)
app.add_typer(route.app)
app.add_typer(ledger.app)
app.add_typer(reconcile.app)
app.add_typer(blocklist.app)

_SERVE_EPILOG = (
    "Examples:\n\n  synccash serve\n\n  synccash serve --host 0.0.0.0 --port 8080\n\n"
    "  DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/synccash REDIS_URL=redis://127.0.0.1:6379/0 "
    "synccash serve"
)
app.command("serve", epilog=_SERVE_EPILOG)(run.serve)
app.command(
    "api",
    epilog="Examples:\n\n  synccash api --host 0.0.0.0 --port 8000\n\n  synccash api --workers 2",
)(run.api)
app.command(
    "worker",
    epilog="Examples:\n\n  synccash worker --concurrency 16\n\n  synccash worker --metrics-port 9100",
)(run.worker)
app.command(
    "migrate",
    epilog=(
        "Examples:\n\n  synccash migrate\n\n  synccash migrate --revision head\n\n"
        "  synccash migrate --downgrade base"
    ),
)(run.migrate)
app.add_typer(run.sandbox_app)
app.command(
    "bench",
    epilog="Examples:\n\n  synccash bench\n\n  synccash bench core --seconds 2\n\n  synccash bench --list",
)(run.bench)
