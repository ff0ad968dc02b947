"""`synccash token mint`: development merchant tokens signed with JWT_SECRET_KEY."""

from typing import Annotated

import typer

from synccash.api.auth import ALL_SCOPES, Scope, mint_token
from synccash.cli._console import console, err_console
from synccash.cli._errors import usage_error
from synccash.cli._settings import load_settings, note_dev_secret

app = typer.Typer(
    name="token",
    help="Merchant bearer tokens (HS256, signed with JWT_SECRET_KEY).",
    no_args_is_help=True,
)

_SCOPES = ", ".join(s.value for s in Scope)
#: A merchant's token by default; the operators' `ops` scope only when asked for (--scope ops).
MERCHANT_SCOPES = tuple(s.value for s in ALL_SCOPES)


@app.command(
    "mint",
    epilog=(
        "Examples:\n\n"
        "  synccash token mint --merchant shop-42\n\n"
        "  synccash token mint --merchant shop-42 --scope payments:read --ttl 600\n\n"
        '  export SYNCCASH_TOKEN="$(synccash token mint --merchant shop-42 | tail -n1)"'
    ),
)
def mint(
    merchant: Annotated[str, typer.Option("--merchant", "-m", help="Merchant id (token subject).")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            "-s",
            help=f"Scope to grant ({_SCOPES}); repeat. Default: {', '.join(MERCHANT_SCOPES)}.",
        ),
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds.", min=1)] = 3600,
) -> None:
    """Mint a merchant token; the token alone is the last line of stdout."""
    if not merchant.strip():
        usage_error("--merchant must not be empty")
    scopes = tuple(scope) if scope else MERCHANT_SCOPES
    known = {s.value for s in Scope}
    unknown = [s for s in scopes if s not in known]
    if unknown:
        usage_error(f"unknown scope {unknown[0]!r}; use one of: {_SCOPES}")
    settings = load_settings()
    note_dev_secret(settings)
    token = mint_token(settings, merchant.strip(), scopes, ttl)
    err_console.print(
        f"merchant={merchant.strip()} scopes={' '.join(scopes)} ttl={ttl}s issuer={settings.jwt_issuer}"
    )
    console.print(token, markup=False, highlight=False, soft_wrap=True)
