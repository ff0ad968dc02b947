"""The `synccash` command line: one Typer app, sub-commands in their own modules."""

import typer

from synccash.cli import pay, route, tokens
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
app.add_typer(tokens.app)
app.add_typer(pay.app)
app.add_typer(pay.report_app)
app.add_typer(route.app)
