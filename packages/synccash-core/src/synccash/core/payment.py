"""The Payment aggregate (the intent) and its Attempts (one per provider try).

States and legal transitions follow DESIGN.md. Every transition appends a
`PaymentEvent` (the audit trail); illegal transitions raise. The aggregate is
pure: time comes in as arguments, ids come from the caller.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from attrs import define, field, frozen

from synccash.core.errors import (
    IllegalTransition,
    PaymentNotCancellable,
    PaymentNotRefundable,
)
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.providers import ProviderId


class PaymentState(enum.StrEnum):
    """The nine payment states of the product spec."""

    INITIATED = "INITIATED"
    VALIDATING = "VALIDATING"
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"

    @property
    def is_terminal(self) -> bool:
        """No further state change except CONFIRMED -> REFUNDED."""
        return self in TERMINAL_STATES

    @property
    def is_final(self) -> bool:
        """Nothing can ever change again."""
        return self in TERMINAL_STATES and self is not PaymentState.CONFIRMED


S = PaymentState
TERMINAL_STATES: Final = frozenset({S.CONFIRMED, S.FAILED, S.EXPIRED, S.CANCELLED, S.REFUNDED})

#: The only legal transitions. Anything else raises IllegalTransition.
TRANSITIONS: Final[Mapping[PaymentState, frozenset[PaymentState]]] = {
    S.INITIATED: frozenset({S.VALIDATING, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.VALIDATING: frozenset({S.PENDING, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.PENDING: frozenset({S.PROCESSING, S.FAILED, S.CANCELLED, S.EXPIRED}),
    # PROCESSING -> PENDING: a transient failure or failover queues the next attempt.
    # PROCESSING -> REFUNDED: a transfer whose payout leg failed, its payer refunded.
    S.PROCESSING: frozenset({S.PENDING, S.CONFIRMED, S.FAILED, S.EXPIRED, S.REFUNDED}),
    S.CONFIRMED: frozenset({S.REFUNDED}),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


class PaymentKind(enum.StrEnum):
    """What a payment moves, and so which legs (attempts) it has (DESIGN.md section 8)."""

    COLLECTION = "collection"  # payer wallet -> the merchant's account: one COLLECT leg
    TRANSFER = "transfer"  # payer wallet -> a wallet payee: COLLECT, then DISBURSE
    PAYOUT = "payout"  # the merchant's balance -> a wallet: one DISBURSE leg

    @classmethod
    def for_payee(cls, payee: Payee) -> PaymentKind:
        """A collection for a merchant-account payee, a transfer for a wallet payee."""
        return cls.TRANSFER if payee.msisdn is not None else cls.COLLECTION


class AttemptKind(enum.StrEnum):
    """What an attempt asks the provider to do."""

    COLLECT = "collect"  # debit the payer (MTN request-to-pay)
    DISBURSE = "disburse"  # credit a wallet (MTN transfer)
    REFUND = "refund"  # reverse (part of) a collection


class AttemptStatus(enum.StrEnum):
    """Lifecycle of one provider try."""

    CREATED = "created"  # reference persisted, not yet sent
    SUBMITTED = "submitted"  # sent; the provider accepted it (or said it already had it)
    PENDING = "pending"  # the provider says: not final yet
    UNKNOWN = "unknown"  # may have reached the provider; only a status answer resolves it
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """SUCCEEDED or FAILED."""
        return self in (AttemptStatus.SUCCEEDED, AttemptStatus.FAILED)

    @property
    def may_have_moved_money(self) -> bool:
        """True while the provider may be moving money for this attempt."""
        return self in (AttemptStatus.SUBMITTED, AttemptStatus.PENDING, AttemptStatus.UNKNOWN)


@frozen
class Wallet:
    """A payer's wallet at one provider, with a balance when the merchant knows it."""

    provider: ProviderId
    msisdn: Msisdn
    balance: Money | None = None


@frozen
class Payee:
    """Who receives: a wallet MSISDN on any network, or the merchant's own collection account."""

    msisdn: Msisdn | None = None
    merchant_account: str | None = None

    @property
    def key(self) -> str:
        """Stable identity for fraud/payee statistics."""
        return (
            str(self.msisdn)
            if self.msisdn is not None
            else f"{ACCOUNT_KEY_PREFIX}{self.merchant_account}"
        )


#: `failure_code`s that mean "waiting", not failed (cleared when the wait ends).
WAIT_REASONS: Final = frozenset({"float_insufficient"})

#: Payee keys of merchant collection accounts start with this; a wallet's key is its MSISDN.
ACCOUNT_KEY_PREFIX: Final = "acct:"


def is_wallet_payee_key(key: str) -> bool:
    """True for a wallet payee's key (an MSISDN), False for a merchant collection account.

    The fan-in (mule) signal applies to wallets only: a merchant's own collection account
    is paid by many new payers every hour by design.
    """
    return not key.startswith(ACCOUNT_KEY_PREFIX)


@frozen
class PaymentEvent:
    """One audit-trail entry: append-only, ordered by seq within a payment."""

    payment_id: str
    seq: int
    type: str
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(factory=dict)


@define
class Attempt:
    """One try at one provider, with its own reference (the provider's idempotency key)."""

    reference: str
    seq: int
    provider: ProviderId
    kind: AttemptKind
    msisdn: Msisdn
    amount: Money
    created_at: datetime
    updated_at: datetime
    status: AttemptStatus = AttemptStatus.CREATED
    provider_transaction_id: str | None = None
    error_code: str | None = None
    failure_reason: FailureReason | None = None
    submit_count: int = 0
    poll_count: int = 0
    original_reference: str | None = None  # refunds: the collection attempt being reversed
    provider_charges_minor: int | None = None  # the provider's charge for it, when it said

    @property
    def is_open(self) -> bool:
        """Not final yet."""
        return not self.status.is_final


@define
class Payment:
    """The payment intent: what the merchant asked for, and everything that happened since."""

    id: str
    merchant_id: str
    amount: Money
    payer: Msisdn
    wallets: tuple[Wallet, ...]
    payee: Payee
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    kind: PaymentKind = PaymentKind.COLLECTION
    description: str = ""
    reference: str | None = None  # the merchant's own reference
    metadata: Mapping[str, Any] = field(factory=dict)
    webhook_url: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    state: PaymentState = PaymentState.INITIATED
    version: int = 0  # optimistic concurrency; bumped by the repository on save
    failure_code: str | None = None
    failure_reason: str | None = None
    route: tuple[Wallet, ...] = ()  # ranked wallets still to try, first is current
    routing: Mapping[str, Any] | None = None  # serialisable routing explanation
    risk: Mapping[str, Any] | None = None  # serialisable risk assessment
    fee_quote: Mapping[str, Any] | None = None  # serialisable fee quote for the current route
    fee_minor: int = 0
    flagged_for_review: bool = False
    refunded_minor: int = 0
    next_action_at: datetime | None = None
    attempts: list[Attempt] = field(factory=list)
    events: list[PaymentEvent] = field(factory=list)  # loaded history + new ones
    new_events: list[PaymentEvent] = field(factory=list)  # not yet persisted
    # seq of the last stored event when `events` was loaded without the history before it
    # (PaymentRepository.load): numbering continues from here
    history_seq: int = 0

    # --- named constructor -------------------------------------------------
    @classmethod
    def initiate(
        cls,
        *,
        payment_id: str,
        merchant_id: str,
        amount: Money,
        payer: Msisdn,
        wallets: tuple[Wallet, ...],
        payee: Payee,
        now: datetime,
        expires_at: datetime,
        description: str = "",
        reference: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        actor: str = "merchant",
        kind: PaymentKind | None = None,
    ) -> Payment:
        """A new INITIATED payment with its first audit event.

        `kind` defaults to what the payee implies (`PaymentKind.for_payee`).
        """
        payment = cls(
            id=payment_id,
            merchant_id=merchant_id,
            amount=amount,
            payer=payer,
            wallets=wallets,
            payee=payee,
            created_at=now,
            expires_at=expires_at,
            updated_at=now,
            kind=PaymentKind.for_payee(payee) if kind is None else kind,
            description=description,
            reference=reference,
            metadata=dict(metadata or {}),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            next_action_at=now,
        )
        payment.record(
            "payment.initiated",
            now,
            actor,
            amount=amount.to_decimal_string(),
            currency=amount.currency,
            state=PaymentState.INITIATED.value,
            kind=payment.kind.value,
        )
        return payment

    # --- audit trail ---------------------------------------------------------
    def record(self, type_: str, at: datetime, actor: str, **data: Any) -> PaymentEvent:
        """Append an audit event (no state change by itself)."""
        seq = (self.events[-1].seq if self.events else self.history_seq) + 1
        event = PaymentEvent(self.id, seq, type_, at, actor, data)
        self.events.append(event)
        self.new_events.append(event)
        self.updated_at = at
        return event

    # --- state machine -------------------------------------------------------
    def can_transition(self, to: PaymentState) -> bool:
        """True if the state machine allows moving to `to` now."""
        return to in TRANSITIONS[self.state]

    def transition(
        self, to: PaymentState, at: datetime, *, actor: str, reason: str, **data: Any
    ) -> None:
        """Move to `to` or raise IllegalTransition; always records an audit event."""
        if not self.can_transition(to):
            raise IllegalTransition(
                f"payment {self.id} cannot go from {self.state.value} to {to.value}"
            )
        previous = self.state
        self.state = to
        if to.is_terminal:
            self.next_action_at = None
        self.record(
            f"payment.{to.value.lower()}",
            at,
            actor,
            previous=previous.value,
            state=to.value,
            reason=reason,
            **data,
        )

    def fail(self, at: datetime, *, code: str, reason: str, actor: str = "system") -> None:
        """Move to FAILED with a stable failure code."""
        self.failure_code = code
        self.failure_reason = reason
        self.transition(PaymentState.FAILED, at, actor=actor, reason=reason, failure_code=code)

    # --- attempts -------------------------------------------------------------
    @property
    def current_attempt(self) -> Attempt | None:
        """The latest non-refund attempt."""
        for attempt in reversed(self.attempts):
            if attempt.kind is not AttemptKind.REFUND:
                return attempt
        return None

    @property
    def open_refund(self) -> Attempt | None:
        """A refund attempt that is not final yet."""
        for attempt in self.attempts:
            if attempt.kind is AttemptKind.REFUND and attempt.is_open:
                return attempt
        return None

    def attempt_by_reference(self, reference: str) -> Attempt | None:
        """Find an attempt by our reference."""
        for attempt in self.attempts:
            if attempt.reference == reference:
                return attempt
        return None

    @property
    def open_attempt(self) -> Attempt | None:
        """The attempt that is not final yet (a payment has at most one at a time), or None."""
        for attempt in reversed(self.attempts):
            if attempt.is_open:
                return attempt
        return None

    @property
    def money_moved(self) -> bool:
        """True once a collect or disburse leg succeeded (the payment's expiry no longer applies)."""
        return self.succeeded_attempt is not None

    @property
    def money_may_be_moving(self) -> bool:
        """True while any attempt may be moving money at a provider."""
        return any(a.status.may_have_moved_money for a in self.attempts)

    def add_attempt(
        self,
        *,
        reference: str,
        provider: ProviderId,
        kind: AttemptKind,
        msisdn: Msisdn,
        amount: Money,
        at: datetime,
        actor: str = "worker",
        original_reference: str | None = None,
    ) -> Attempt:
        """Create a new attempt (persist it before sending: rule 2)."""
        # one leg at a time: a leg starts only after the previous one ended
        open_ = self.open_attempt
        if open_ is not None:
            raise IllegalTransition(
                f"payment {self.id} already has an open {open_.kind.value} attempt"
            )
        if kind is not AttemptKind.REFUND and any(
            a.kind is AttemptKind.REFUND for a in self.attempts
        ):
            # a refund (or a transfer's compensation) is the last leg money takes
            raise IllegalTransition(f"payment {self.id} has a refund: no {kind.value} leg after it")
        attempt = Attempt(
            reference=reference,
            seq=len(self.attempts) + 1,
            provider=provider,
            kind=kind,
            msisdn=msisdn,
            amount=amount,
            created_at=at,
            updated_at=at,
            original_reference=original_reference,
        )
        self.attempts.append(attempt)
        self.record(
            "attempt.created",
            at,
            actor,
            reference=reference,
            provider=provider.value,
            kind=kind.value,
            msisdn=msisdn.masked,
            amount=amount.to_decimal_string(),
        )
        return attempt

    def update_attempt(
        self,
        attempt: Attempt,
        status: AttemptStatus,
        outcome: ProviderOutcome,
        at: datetime,
        *,
        actor: str = "worker",
        event: str = "attempt.updated",
    ) -> None:
        """Record what the provider said about an attempt."""
        if attempt.status.is_final and status is not attempt.status:
            raise IllegalTransition(
                f"attempt {attempt.reference} is already {attempt.status.value}"
            )
        previous = attempt.status
        attempt.status = status
        attempt.updated_at = at
        if outcome.provider_transaction_id:
            attempt.provider_transaction_id = outcome.provider_transaction_id
        if outcome.provider_charges_minor is not None:
            attempt.provider_charges_minor = outcome.provider_charges_minor
        if outcome.provider_code and outcome.kind.value not in ("succeeded", "pending"):
            attempt.error_code = outcome.provider_code  # the audit event keeps every code
        if outcome.reason is not None:
            attempt.failure_reason = outcome.reason
        self.record(
            event,
            at,
            actor,
            reference=attempt.reference,
            provider=attempt.provider.value,
            previous=previous.value,
            status=status.value,
            outcome=outcome.kind.value,
            reason=outcome.reason.value if outcome.reason else None,
            provider_code=outcome.provider_code,
        )

    def count_send(self, attempt: Attempt, at: datetime, *, look_again_at: datetime) -> None:
        """Count one more send of a CREATED attempt, and when to look again if no answer comes.

        The send itself is in the audit trail as the `payment.processing` (first send) or
        `*.resend_scheduled` event that led to it.
        """
        self._own_open(attempt)
        if attempt.status is not AttemptStatus.CREATED:
            raise IllegalTransition(
                f"attempt {attempt.reference} is {attempt.status.value}, not ready to be sent"
            )
        attempt.submit_count += 1
        attempt.updated_at = at
        self.next_action_at = look_again_at

    def count_poll(self, attempt: Attempt) -> int:
        """Count one more status poll of an open attempt; returns the polls made before."""
        self._own_open(attempt)
        before = attempt.poll_count
        attempt.poll_count += 1
        return before

    def schedule_resend(self, attempt: Attempt, at: datetime, *, event: str, **data: Any) -> None:
        """Make an open attempt ready to be sent again with the SAME reference (rule 2)."""
        self._own_open(attempt)
        if attempt.status is AttemptStatus.CREATED:
            return  # not accepted yet: it is already waiting to be sent
        attempt.status = AttemptStatus.CREATED
        attempt.updated_at = at
        self.record(event, at, "worker", reference=attempt.reference, **data)

    def abandon_unsent(
        self, attempt: Attempt, at: datetime, *, reason: str, actor: str = "worker"
    ) -> None:
        """Close an attempt that was never accepted by a provider (nothing can have moved)."""
        self._own_open(attempt)
        if attempt.status is not AttemptStatus.CREATED:
            raise IllegalTransition(
                f"attempt {attempt.reference} is {attempt.status.value}: it may be at a provider"
            )
        attempt.status = AttemptStatus.FAILED
        attempt.updated_at = at
        self.record(
            "attempt.abandoned",
            at,
            actor,
            reference=attempt.reference,
            provider=attempt.provider.value,
            reason=reason,
        )

    def _own_open(self, attempt: Attempt) -> None:
        if attempt not in self.attempts:
            raise IllegalTransition(f"attempt {attempt.reference} is not one of payment {self.id}")
        if not attempt.is_open:
            raise IllegalTransition(
                f"attempt {attempt.reference} is already {attempt.status.value}"
            )

    # --- route and timing -------------------------------------------------------
    def wait_until(self, at: datetime | None) -> None:
        """When the worker should look at this payment again (None: nothing left to do)."""
        self.next_action_at = at

    def wait_for(self, at: datetime, *, until: datetime, code: str, reason: str) -> None:
        """Wait for something outside the payment (e.g. our float to be topped up).

        `failure_code`/`failure_reason` say why while it waits (the status view shows
        them); the audit event is recorded once, when the wait starts.
        """
        if self.state.is_terminal:
            raise IllegalTransition(f"payment {self.id} is {self.state.value}: nothing to wait for")
        self.next_action_at = until
        if self.failure_code == code:
            return
        self.failure_code = code
        self.failure_reason = reason
        self.record("payment.waiting", at, "worker", reason=code, message=reason)

    def stop_waiting(self) -> None:
        """What the payment waited for is there: clear the reason (a failure code stays)."""
        if self.failure_code in WAIT_REASONS:
            self.failure_code = None
            self.failure_reason = None

    def record_checks(
        self,
        *,
        risk: Mapping[str, Any] | None,
        routing: Mapping[str, Any] | None,
        flagged: bool = False,
    ) -> None:
        """Keep the explanations of the risk rules and of routing (serialisable documents)."""
        if risk is not None:
            self.risk = risk
        self.routing = routing
        self.flagged_for_review = self.flagged_for_review or flagged

    def choose_route(
        self,
        at: datetime,
        *,
        route: tuple[Wallet, ...],
        fee_quote: Mapping[str, Any] | None,
        fee_minor: int,
        **data: Any,
    ) -> None:
        """VALIDATING -> PENDING with the ranked wallets (or networks) to try."""
        if not route:
            raise IllegalTransition(f"payment {self.id} needs at least one wallet to route to")
        self.route = route
        self.fee_quote = fee_quote
        self.fee_minor = fee_minor
        self.next_action_at = at
        details = {"provider": route[0].provider.value, "flagged": self.flagged_for_review}
        if self.state is PaymentState.PENDING:  # routed again after waiting for a provider
            self.record("payment.rerouted", at, "worker", reason="route chosen", **details, **data)
            return
        self.transition(
            PaymentState.PENDING, at, actor="worker", reason="route chosen", **details, **data
        )

    def fail_over(self, at: datetime, *, reason: str) -> Wallet:
        """Drop the failed wallet at the head of the route; returns the next one.

        Before any money moved the payment goes back to PENDING for its next attempt;
        a later leg (a transfer's payout) stays PROCESSING.
        """
        if len(self.route) < 2:  # the failed wallet and a next one
            raise IllegalTransition(f"payment {self.id} has no further wallet to fail over to")
        failed, self.route = self.route[0], self.route[1:]
        self.next_action_at = at
        data = {
            "failed_provider": failed.provider.value,
            "next_provider": self.route[0].provider.value,
        }
        if self.money_moved:
            self.record("payment.leg_failed_over", at, "worker", reason=reason, **data)
        else:
            self.transition(
                PaymentState.PENDING, at, actor="worker", reason=f"failover after {reason}", **data
            )
        return self.route[0]

    def add_to_route(
        self, wallet: Wallet, at: datetime, *, event: str, as_wallet: bool = False, **data: Any
    ) -> None:
        """Rank one more wallet (or network) last in the route, e.g. a ported number's home.

        `as_wallet`: it also replaces the payer's wallets (the payer's default wallet
        followed the number to its home network).
        """
        if as_wallet:
            self.wallets = (wallet,)
        self.route = (*self.route, wallet)
        self.record(event, at, "worker", provider=wallet.provider.value, **data)

    def route_leg(self, wallet: Wallet, at: datetime, *, reason: str) -> None:
        """The route of the next leg (e.g. a transfer's payout to the payee's network)."""
        self.route = (wallet,)
        self.next_action_at = at
        self.record(
            "payment.leg_routed", at, "worker", provider=wallet.provider.value, reason=reason
        )

    def expire(self, at: datetime, *, why: str, actor: str = "scheduler") -> None:
        """Move to EXPIRED (the transaction timeout passed before money moved)."""
        if self.money_may_be_moving or self.money_moved:
            raise IllegalTransition(f"payment {self.id} cannot expire once money may have moved")
        self.failure_code = "expired"
        self.failure_reason = why
        self.transition(PaymentState.EXPIRED, at, actor=actor, reason="transaction timeout")

    def record_refund(self, attempt: Attempt, at: datetime) -> None:
        """A refund attempt succeeded: count it; REFUNDED once the whole amount is back."""
        if attempt.kind is not AttemptKind.REFUND or attempt.status is not AttemptStatus.SUCCEEDED:
            raise IllegalTransition(f"attempt {attempt.reference} is not a succeeded refund")
        self.refunded_minor += attempt.amount.minor
        self.next_action_at = None
        if self.refunded_minor >= self.amount.minor:
            self.transition(PaymentState.REFUNDED, at, actor="worker", reason="refund confirmed")
            return
        self.record(
            "payment.partially_refunded",
            at,
            "worker",
            refunded=Money(self.refunded_minor, self.amount.currency).to_decimal_string(),
        )

    def compensate(
        self, collected: Attempt, at: datetime, *, reference: str, why: str, **data: Any
    ) -> Attempt:
        """Saga compensation: refund the collection `collected` (a transfer's payout failed)."""
        if (
            collected.kind is not AttemptKind.COLLECT
            or collected.status is not AttemptStatus.SUCCEEDED
        ):
            raise IllegalTransition(f"attempt {collected.reference} is not a succeeded collection")
        self.failure_code = "payout_failed"
        self.failure_reason = why
        self.record(
            "payment.compensating",
            at,
            "worker",
            reason="payout_failed",
            refund_of=collected.reference,
            **data,
        )
        refund = self.add_attempt(
            reference=reference,
            provider=collected.provider,
            kind=AttemptKind.REFUND,
            msisdn=collected.msisdn,
            amount=collected.amount,
            at=at,
            original_reference=collected.reference,
        )
        self.next_action_at = at
        return refund

    def compensated(self, refund: Attempt, at: datetime) -> None:
        """The compensation came back: the payer has the money again; REFUNDED (payout_failed)."""
        if refund.kind is not AttemptKind.REFUND or refund.status is not AttemptStatus.SUCCEEDED:
            raise IllegalTransition(f"attempt {refund.reference} is not a succeeded refund")
        self.refunded_minor += refund.amount.minor
        self.transition(
            PaymentState.REFUNDED,
            at,
            actor="worker",
            reason="payout_failed",
            failure_code="payout_failed",
            reference=refund.reference,
        )

    # --- merchant actions -----------------------------------------------------
    def cancel(
        self, at: datetime, *, actor: str = "merchant", reason: str = "cancelled by merchant"
    ) -> None:
        """Cancel, only while nothing is at a provider."""
        if (
            self.state.is_terminal
            or self.money_may_be_moving
            or self.state is PaymentState.PROCESSING
        ):
            raise PaymentNotCancellable(
                f"payment {self.id} cannot be cancelled in state {self.state.value}"
                + (" while an attempt is at a provider" if self.money_may_be_moving else "")
            )
        for attempt in self.attempts:
            if attempt.status is AttemptStatus.CREATED:
                # never sent: closing it is safe and keeps 'one open attempt' true
                self.abandon_unsent(attempt, at, reason="payment cancelled", actor=actor)
        self.transition(PaymentState.CANCELLED, at, actor=actor, reason=reason)

    @property
    def refundable(self) -> Money:
        """What can still be refunded."""
        if self.state is not PaymentState.CONFIRMED:
            return Money.zero(self.amount.currency)
        return Money(self.amount.minor - self.refunded_minor, self.amount.currency)

    def check_refund(self, amount: Money) -> None:
        """Raise PaymentNotRefundable unless `amount` can be refunded now."""
        if self.state is not PaymentState.CONFIRMED:
            raise PaymentNotRefundable(
                f"only CONFIRMED payments can be refunded; payment {self.id} is {self.state.value}"
            )
        if self.open_refund is not None:
            raise PaymentNotRefundable(f"payment {self.id} already has a refund in progress")
        if not amount.is_positive or amount > self.refundable:
            raise PaymentNotRefundable(
                f"refund amount {amount.to_decimal_string()} must be between 0.01 and "
                f"{self.refundable.to_decimal_string()}"
            )

    @property
    def succeeded_attempt(self) -> Attempt | None:
        """The collection/disbursement attempt that moved the money."""
        for attempt in self.attempts:
            if attempt.kind is not AttemptKind.REFUND and attempt.status is AttemptStatus.SUCCEEDED:
                return attempt
        return None

    @property
    def provider(self) -> ProviderId | None:
        """The provider of the current (or successful) attempt, else the chosen route."""
        done = self.succeeded_attempt
        if done is not None:
            return done.provider
        current = self.current_attempt
        if current is not None:
            return current.provider
        return self.route[0].provider if self.route else None
