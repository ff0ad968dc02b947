"""Ported numbers: when to ask the account-holder lookup, whom to ask, and what its answer changes."""

from __future__ import annotations

from datetime import datetime

from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    Payment,
    Wallet,
)
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId

_O = OutcomeKind
_C, _D, _R = AttemptKind.COLLECT, AttemptKind.DISBURSE, AttemptKind.REFUND


# --------------------------------------------------------------------------- ported numbers
def lookup_for_home(payment: Payment, attempt: Attempt, outcome: ProviderOutcome) -> Msisdn | None:
    """The number to look up when the prefix network said "not our customer", else None.

    Numbers are portable. Asked only after the prefix network answered not found (most
    numbers live where their prefix says: one lookup per payment would cost a round trip)
    and only when nothing else is left on the route: for a collection from the payer's
    default wallet (the payer's number on its prefix network, nothing else known; a
    merchant's explicit wallets are taken as given), or a payout to the payee's prefix
    network.
    """
    if outcome.kind is not _O.FAILED or len(payment.route) != 1:
        return None
    if attempt.kind is _C and outcome.reason is FailureReason.PAYER_NOT_FOUND:
        wallet = payment.wallets[0] if len(payment.wallets) == 1 else None
        if wallet is None or wallet.balance is not None or wallet.msisdn != payment.payer:
            return None
        return wallet.msisdn if wallet.provider is wallet.msisdn.network_hint else None
    if attempt.kind is _D and outcome.reason is FailureReason.PAYEE_NOT_FOUND:
        head = payment.route[0]
        return head.msisdn if head.provider is head.msisdn.network_hint else None
    return None


def lookup_order(hint: ProviderId) -> tuple[ProviderId, ...]:
    """Providers to ask where a number lives: its prefix network first, then the others that
    have an account-holder lookup."""
    order = (hint, *(p for p in ProviderId if p is not hint))
    return tuple(p for p in order if DEFAULT_PROFILES[p].can(Capability.NAME_LOOKUP))


def add_home(payment: Payment, attempt: Attempt, home: ProviderId, now: datetime) -> None:
    """The lookup found the number on `home`: rank that network next on the route.

    For a collection the payer's default wallet follows the number (it becomes the payer's
    wallet on its home network).
    """
    head = payment.route[0]
    if home is head.provider:
        return
    who = "payer" if attempt.kind is _C else "payee"
    payment.add_to_route(
        Wallet(home, head.msisdn),
        now,
        as_wallet=attempt.kind is _C,
        event="payment.wallet_resolved",
        prefix_network=head.provider.value,
        reason=f"account-holder lookup after {who}_not_found (number ported)",
    )
