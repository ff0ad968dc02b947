"""What a payment needs next (`next_action`), and carrying out the actions that need no provider answer."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from attrs import frozen

from synccash.core.decision import Evaluation
from synccash.core.fraud import RiskDecision
from synccash.core.msisdn import Msisdn
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.ports import AttemptRequest
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.reliability import CircuitState, ProviderHealth
from synccash.core.retry import BackoffPolicy

_K = AttemptKind
_S = PaymentState


#: Resend safety net: a sent attempt with no answer is looked at again this much after its
#: backoff (the sweep re-sends with the same reference if the process died meanwhile).
SEND_GRACE: Final = timedelta(seconds=5)


# --------------------------------------------------------------------------- actions
@frozen
class Done:
    """Nothing to do (final, or settled and waiting for nothing)."""


@frozen
class Wait:
    """Look again at `until`."""

    until: datetime


@frozen
class Expire:
    """The transaction timeout passed before any money moved."""

    why: str


@frozen
class Check:
    """Run the risk rules (unless `routing_only`) and routing, then `apply_checks`."""

    routing_only: bool = False


@frozen
class Fail:
    """The payment cannot go on (an inconsistency): FAILED with `code`."""

    code: str
    reason: str


@frozen
class Dispatch:
    """Open the first leg's attempt on the head of the route (if none is open) and send it."""


@frozen
class Send:
    """Send (or re-send, same reference) this CREATED attempt."""

    attempt: Attempt


@frozen
class Poll:
    """Ask the provider for the state of this attempt."""

    attempt: Attempt


Action = Done | Wait | Expire | Fail | Check | Dispatch | Send | Poll

_BEFORE_PROVIDER: Final = frozenset({_S.INITIATED, _S.VALIDATING, _S.PENDING})


def first_leg(kind: PaymentKind) -> AttemptKind:
    """The leg a payment starts with: a payout disburses, everything else collects."""
    return _K.DISBURSE if kind is PaymentKind.PAYOUT else _K.COLLECT


def next_action(payment: Payment, now: datetime) -> Action:
    """What the payment needs now. Reads only; the caller carries the action out."""
    if payment.state.is_final or payment.next_action_at is None:
        return Done()
    if payment.next_action_at > now:
        return Wait(payment.next_action_at)
    attempt = payment.open_attempt
    if payment.state is _S.CONFIRMED:  # only a refund can still be open
        return Done() if attempt is None else _send_or_poll(attempt)
    expired = now >= payment.expires_at and not payment.money_moved
    if payment.state in _BEFORE_PROVIDER:
        if expired and not payment.money_may_be_moving:
            return Expire("not confirmed within the transaction timeout")
        if payment.state is not _S.PENDING:
            return Check()
        return Dispatch() if payment.route else Check(routing_only=True)
    if attempt is None:
        if payment.kind is PaymentKind.TRANSFER and payment.money_moved and payment.route:
            return Dispatch()  # the payer paid: the payout leg is next
        return Fail("internal_inconsistency", "processing without an open attempt")
    if expired and attempt.status is AttemptStatus.CREATED and not attempt.submit_count:
        return Expire("timed out before the attempt was sent")  # never sent: nothing moved
    if expired and attempt.status is AttemptStatus.CREATED:
        return Poll(attempt)  # it may have been sent: ask before expiring
    return _send_or_poll(attempt)


def _send_or_poll(attempt: Attempt) -> Send | Poll:
    return Send(attempt) if attempt.status is AttemptStatus.CREATED else Poll(attempt)


def expire(payment: Payment, now: datetime, why: str) -> None:
    """Carry out `Expire`: close a never-sent attempt, then EXPIRED."""
    attempt = payment.open_attempt
    if attempt is not None and attempt.status is AttemptStatus.CREATED:
        payment.abandon_unsent(attempt, now, reason="transaction timeout")
    payment.expire(now, why=why)


# --------------------------------------------------------------------------- checks and routing
@frozen
class LifecyclePolicy:
    """The timings the decisions use (from settings, via `PaymentPolicy`)."""

    backoff: BackoffPolicy = BackoffPolicy()
    #: how long a payment whose every provider's circuit is open waits before routing again
    circuit_wait: timedelta = timedelta(seconds=5)
    #: how often a payout leg waiting for our float to be topped up looks again
    float_wait: timedelta = timedelta(seconds=30)
    callback_base_url: str | None = None


def begin_checks(payment: Payment, now: datetime) -> None:
    """INITIATED -> VALIDATING (the checks start)."""
    if payment.state is _S.INITIATED:
        payment.transition(_S.VALIDATING, now, actor="worker", reason="checks started")


def apply_checks(
    payment: Payment,
    evaluation: Evaluation,
    now: datetime,
    policy: LifecyclePolicy,
    *,
    retry_at: datetime | None = None,
) -> None:
    """The risk rules and routing answered: block, wait for a circuit, fail or route.

    `retry_at`: when the first open circuit lets a probe through (`earliest_retry`).
    """
    risk = evaluation.risk
    routing = evaluation.routing
    payment.record_checks(
        risk=None if risk is None else risk.explain(),
        routing=routing.explain(),
        flagged=risk is not None and risk.decision is RiskDecision.REVIEW,
    )
    if risk is not None and risk.decision is RiskDecision.BLOCK:
        codes = ", ".join(r.code for r in risk.reasons)
        payment.fail(now, code="risk_blocked", reason=f"blocked by risk rules: {codes}")
        return
    chosen = routing.chosen
    if chosen is None:
        if any(r.code == "circuit_open" for r in routing.rejected):
            _wait_for_circuit(payment, now, policy, retry_at)
            return
        why = "; ".join(f"{r.wallet.provider.value}: {r.message}" for r in routing.rejected)
        payment.fail(now, code="no_route_available", reason=f"no provider can take it ({why})")
        return
    payment.choose_route(
        now,
        route=tuple(c.wallet for c in routing.candidates),
        fee_quote=chosen.fee.explain(),
        fee_minor=chosen.fee.total_fee.minor,
    )


def _wait_for_circuit(
    payment: Payment, now: datetime, policy: LifecyclePolicy, retry_at: datetime | None
) -> None:
    """Every usable provider's circuit is open: wait in PENDING for a half-open probe.

    Routed again when the first circuit lets a probe through (else after `circuit_wait`);
    the transaction timeout still applies (`next_action` expires the payment).
    """
    if payment.state is _S.VALIDATING:
        payment.transition(
            _S.PENDING,
            now,
            actor="worker",
            reason="waiting for a provider: every circuit is open",
        )
    until = retry_at if retry_at is not None and retry_at > now else now + policy.circuit_wait
    payment.wait_until(min(until, payment.expires_at))


def apply_payout_checks(
    payment: Payment,
    health: Mapping[ProviderId, ProviderHealth],
    now: datetime,
    policy: LifecyclePolicy,
) -> None:
    """A payout's route is the payee's network: it must disburse, take the amount, and not
    have its circuit open (then the payout waits for a half-open probe)."""
    wallet = payment.wallets[0]
    profile = DEFAULT_PROFILES[wallet.provider]
    if not profile.can(Capability.DISBURSE) or not profile.within_limits(payment.amount):
        payment.fail(
            now,
            code="no_route_available",
            reason=f"{wallet.provider.value} cannot pay out {payment.amount.to_decimal_string()}",
        )
        return
    state = health.get(wallet.provider)
    if state is not None and state.circuit is CircuitState.OPEN:
        _wait_for_circuit(payment, now, policy, state.retry_at)
        return
    payment.choose_route(now, route=(wallet,), fee_quote=None, fee_minor=0)


def payout_route(payee: Msisdn, provider: ProviderId | None) -> tuple[Wallet, ...]:
    """Where a payout (or a transfer's second leg) goes: the merchant's named provider, else
    the network the payee's prefix says (a ported number is found by lookup when that
    network answers payee_not_found)."""
    return (Wallet(provider or payee.network_hint, payee),)


def next_leg(payment: Payment) -> AttemptKind:
    """The kind of the attempt `Dispatch` opens: the first leg, or a transfer's payout."""
    return _K.DISBURSE if payment.money_moved else first_leg(payment.kind)


def dispatch(payment: Payment, now: datetime, new_reference: Callable[[], str]) -> Attempt:
    """Carry out `Dispatch`: the next leg's attempt on the head of the route (PROCESSING).

    Opened only now, not when the previous leg ended: a payout leg holds float from its
    creation, which the caller checks first (`wait_for_float`).
    """
    attempt = payment.open_attempt
    if attempt is None:
        wallet = payment.route[0]
        attempt = payment.add_attempt(
            reference=new_reference(),
            provider=wallet.provider,
            kind=next_leg(payment),
            msisdn=wallet.msisdn,
            amount=payment.amount,
            at=now,
        )
    payment.stop_waiting()
    if payment.state is _S.PENDING:
        payment.transition(
            _S.PROCESSING,
            now,
            actor="worker",
            reason="attempt sent to provider",
            reference=attempt.reference,
            provider=attempt.provider.value,
        )
    return attempt


def wait_for_float(payment: Payment, now: datetime, policy: LifecyclePolicy) -> None:
    """Our float at the payee's network cannot cover the payout leg: wait until it is topped
    up (the payout in PENDING; a transfer whose payer paid stays PROCESSING)."""
    provider = payment.route[0].provider
    payment.wait_for(
        now,
        until=now + policy.float_wait,
        code="float_insufficient",
        reason=f"our {provider.value} float cannot cover {payment.amount.to_decimal_string()} yet",
    )


def prepare_send(
    payment: Payment,
    attempt: Attempt,
    now: datetime,
    policy: LifecyclePolicy,
    rng: random.Random,
) -> AttemptRequest:
    """Count the send and build the request (the caller persists before sending: rule 2)."""
    look_again = now + policy.backoff.delay(attempt.submit_count + 1, rng) + SEND_GRACE
    payment.count_send(attempt, now, look_again_at=look_again)
    original = (
        payment.attempt_by_reference(attempt.original_reference)
        if attempt.original_reference
        else None
    )
    base = policy.callback_base_url
    return AttemptRequest(
        provider=attempt.provider,
        kind=attempt.kind,
        reference=attempt.reference,
        amount=attempt.amount,
        msisdn=attempt.msisdn,
        payment_id=payment.id,
        note=(payment.description or payment.id)[:160],
        callback_url=f"{base}/{attempt.provider.value}/{attempt.reference}" if base else None,
        original_reference=attempt.original_reference,
        original_provider_transaction_id=original.provider_transaction_id if original else None,
    )
