"""Parse `--wallet provider:msisdn[=balance]` options into the core's WalletInput."""

from __future__ import annotations

from collections.abc import Iterable

from synccash.cli._errors import usage_error
from synccash.core.commands import WalletInput
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId

WALLET_HELP = "A payer wallet as provider:msisdn[=balance], e.g. mtn:0241234567=500; repeat."


def parse_wallet(spec: str) -> WalletInput:
    """Parse one wallet spec; a malformed one is a usage error naming the expected form."""
    provider, sep, rest = spec.partition(":")
    msisdn, has_balance, balance = rest.partition("=")
    if not sep or not provider.strip() or not msisdn.strip() or (has_balance and not balance):
        usage_error(
            f"bad --wallet {spec!r}: expected provider:msisdn[=balance], e.g. mtn:0241234567=500"
        )
    # Validate early so the message names the option; the core re-validates.
    ProviderId.parse(provider)
    Msisdn.parse(msisdn)
    if has_balance:
        Money.parse(balance.strip())
    return WalletInput(provider.strip(), msisdn.strip(), balance.strip() if has_balance else None)


def parse_wallets(specs: Iterable[str] | None) -> tuple[WalletInput, ...]:
    """Parse every --wallet option in order."""
    return tuple(parse_wallet(s) for s in specs or ())
