"""Worker use-cases: one idempotent lifecycle step per task, provider answers, refunds, sweeps.

Safe under at-least-once delivery and concurrent workers (optimistic concurrency; a
reference is persisted before it is sent, and resending always reuses it).
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from typing import Any, Final

from synccash.core.decision import evaluate
from synccash.core.errors import (
    ConcurrencyConflict,
    DomainError,
)
from synccash.core.fraud import RiskDecision
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import (
    Attempt,
    AttemptKind,
    AttemptStatus,
    Payment,
    PaymentState,
    Wallet,
)
from synccash.core.ports import (
    AttemptRequest,
    Clock,
    IdGenerator,
    ProviderGateway,
    ProviderHealthStore,
    RiskContext,
    Task,
    TaskKind,
    TaskQueue,
    UnitOfWorkFactory,
)
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.reliability import HealthSample
from synccash.core.retry import NextStep, next_step, poll_delay
from synccash.core.routing import Router
from synccash.core.service._input import (
    PaymentPolicy,
    routing_seed,
)

# --------------------------------------------------------------------------- worker use-cases
_MAX_STEPS: Final = 12
_PORTED_CACHE_SIZE: Final = 100_000


class LifecycleService:
    """Drives payments through their lifecycle, one idempotent step at a time."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        queue: TaskQueue,
        clock: Clock,
        ids: IdGenerator,
        gateway: ProviderGateway,
        health: ProviderHealthStore,
        risk: RiskContext,
        router: Router,
        policy: PaymentPolicy,
        rng: random.Random | None = None,
    ) -> None:
        """Wire the ports."""
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._gateway = gateway
        self._health = health
        self._risk = risk
        self._router = router
        self._policy = policy
        self._rng = rng or random.Random()  # jitter only; never security
        self._ported: dict[str, ProviderId] = {}  # msisdn -> provider, per process (LRU-ish)

    async def handle(self, task: Task) -> None:
        """Handle one queued task (idempotent: duplicates and late deliveries change nothing)."""
        payment: Payment | None = None
        if task.kind is TaskKind.CHECK_STATUS:
            payment = await self._check_status(task.payment_id, task.hint)
        await self.advance(task.payment_id, payment)

    async def sweep_due(self, limit: int = 500, grace_seconds: float = 10.0) -> int:
        """Re-enqueue every payment whose next action is overdue (the database is the record).

        Each step already schedules its own next task; the sweep is the safety net for
        tasks lost with Redis or a crashed worker, so it only takes payments overdue by
        more than `grace_seconds` (not ones whose delayed task is about to run).
        """
        now = self._clock.now()
        async with self._uow() as uow:
            ids = await uow.payments.due(now - timedelta(seconds=grace_seconds), limit)
        for payment_id in ids:
            await self._queue.enqueue(Task(TaskKind.ADVANCE, payment_id))
        return len(ids)

    async def advance(self, payment_id: str, payment: Payment | None = None) -> None:
        """Take lifecycle steps until the payment must wait (for the payer, a poll or a retry).

        `payment`, when given, is the payment as stored right now (just read or saved by
        this task); steps reuse what they saved instead of reading it again. Every write is
        optimistic on the version, so a stale copy only costs a ConcurrencyConflict and a
        fresh read.
        """
        for _ in range(_MAX_STEPS):
            try:
                more, payment = await self._step(payment_id, payment)
            except ConcurrencyConflict:
                # Another worker (or the API) moved it on; read it again and look again.
                payment = None
                continue
            if isinstance(more, datetime):
                # Waiting (a poll, a retry, a lease): schedule the next look. Identical
                # delayed tasks collapse in the queue; the sweep covers a lost one.
                await self._queue.enqueue(Task(TaskKind.ADVANCE, payment_id), at=more)
                return
            if not more:
                return
        await self._queue.enqueue(Task(TaskKind.ADVANCE, payment_id))

    async def _load(self, payment_id: str) -> Payment | None:
        async with self._uow() as uow:
            return await uow.payments.load(payment_id)

    # ---- one step ----------------------------------------------------------
    async def _step(
        self, payment_id: str, payment: Payment | None
    ) -> tuple[bool | datetime, Payment | None]:
        """One step on the payment as stored (read it when None).

        Returns what to do next (True: take another step; False: nothing to do; a
        datetime: look again then) and the payment as stored after the step (None: read
        it again). A new payment is checked, routed and its first attempt created in one
        write (each transition is still its own audit event), and the attempt's
        reference is durable before it is sent.
        """
        if payment is None:
            payment = await self._load(payment_id)
        if payment is None or payment.state.is_final:
            return False, payment
        now = self._clock.now()
        if payment.next_action_at is None:
            return False, payment
        if payment.next_action_at > now:
            return payment.next_action_at, payment
        send: tuple[Attempt, AttemptRequest] | None = None
        poll: Attempt | None = None
        state = payment.state
        if state is PaymentState.CONFIRMED:
            refund = payment.open_refund
            if refund is None:
                payment.next_action_at = None
            elif refund.status is AttemptStatus.CREATED:
                send = self._prepare_send(payment, refund, now)
            else:
                poll = refund
        elif self._expire_if_due(payment, now):
            pass
        elif state is PaymentState.PROCESSING:
            attempt = payment.current_attempt
            if attempt is None or not attempt.is_open:  # pragma: no cover - defensive
                payment.fail(
                    now,
                    code="internal_inconsistency",
                    reason="processing without an open attempt",
                )
            elif attempt.status is AttemptStatus.CREATED and now >= payment.expires_at:
                if attempt.submit_count == 0:
                    # Never sent: nothing can have moved.
                    attempt.status = AttemptStatus.FAILED
                    self._expire(payment, now, "timed out before the attempt was sent")
                else:
                    poll = attempt  # it may have been sent: ask before expiring
            elif attempt.status is AttemptStatus.CREATED:
                send = self._prepare_send(payment, attempt, now)
            else:
                poll = attempt
        else:
            send = await self._check_route_and_prepare(payment, now)
        if poll is not None:
            outcome = await self._call(
                poll.provider, self._gateway.status(poll.provider, poll.kind, poll.reference)
            )
            return True, await self._apply(
                payment_id, poll.reference, outcome, via="status", payment=payment
            )
        # Persist before any provider call: the reference is durable before it is sent.
        async with self._uow() as uow:
            await uow.payments.save(payment)
            await uow.commit()
        if send is None:
            return True, payment
        attempt, request = send
        outcome = await self._call(attempt.provider, self._gateway.submit(request))
        return True, await self._apply(
            payment_id, attempt.reference, outcome, via="submit", payment=payment
        )

    async def _check_route_and_prepare(
        self, payment: Payment, now: datetime
    ) -> tuple[Attempt, AttemptRequest] | None:
        """INITIATED -> VALIDATING -> PENDING -> PROCESSING, as far as the checks allow.

        The reads (account-holder lookup, risk history, provider health) happen before
        anything is written; the caller saves every transition in one write.
        """
        if payment.state is PaymentState.INITIATED:
            payment.transition(
                PaymentState.VALIDATING, now, actor="worker", reason="checks started"
            )
        if payment.state is PaymentState.VALIDATING:
            await self._validate(payment, now)
            now = self._clock.now()
            if self._expire_if_due(payment, now):
                return None
        if payment.state is not PaymentState.PENDING:
            return None  # blocked by the risk rules, or no route
        attempt = payment.current_attempt
        if attempt is None or not attempt.is_open:
            wallet = payment.route[0]
            attempt = payment.add_attempt(
                reference=self._ids.reference(),
                provider=wallet.provider,
                kind=AttemptKind.COLLECT,
                msisdn=wallet.msisdn,
                amount=payment.amount,
                at=now,
            )
        payment.transition(
            PaymentState.PROCESSING,
            now,
            actor="worker",
            reason="attempt sent to provider",
            reference=attempt.reference,
            provider=attempt.provider.value,
        )
        return self._prepare_send(payment, attempt, now)

    def _expire_if_due(self, payment: Payment, now: datetime) -> bool:
        if now < payment.expires_at or payment.money_may_be_moving:
            return False
        if payment.state not in (
            PaymentState.INITIATED,
            PaymentState.VALIDATING,
            PaymentState.PENDING,
        ):
            return False
        self._expire(payment, now, "not confirmed within the transaction timeout")
        return True

    @staticmethod
    def _expire(payment: Payment, now: datetime, why: str) -> None:
        payment.failure_code = "expired"
        payment.failure_reason = why
        payment.transition(
            PaymentState.EXPIRED, now, actor="scheduler", reason="transaction timeout"
        )

    @staticmethod
    def _may_be_ported(payment: Payment, attempt: Attempt, outcome: ProviderOutcome) -> bool:
        """The prefix network says the payer is not its customer, and nothing else is left."""
        return (
            attempt.kind is AttemptKind.COLLECT
            and outcome.kind is OutcomeKind.FAILED
            and outcome.reason is FailureReason.PAYER_NOT_FOUND
            and len(payment.route) == 1
        )

    async def _resolve_ported(self, payment: Payment, now: datetime) -> None:
        """Numbers are portable: when the wallet came from the prefix alone, ask the providers.

        Asked only after the prefix network answered PAYER_NOT_FOUND (most numbers live
        where their prefix says: one lookup per payment would cost every payer a round
        trip). Only the default wallet (the payer's number on its prefix network, nothing
        else known) is checked; a merchant's explicit wallets are taken as given. The
        payer's home network becomes the next wallet of the route (a failover).
        """
        wallet = payment.wallets[0] if len(payment.wallets) == 1 else None
        if wallet is None or wallet.balance is not None or wallet.msisdn != payment.payer:
            return
        if wallet.provider is not payment.payer.network_hint:
            return
        home = self._ported.get(payment.payer.e164)
        if home is None:
            home = await self._lookup_home(payment.payer, wallet.provider)
            if home is not None:
                self._ported[payment.payer.e164] = home
                if len(self._ported) > _PORTED_CACHE_SIZE:
                    self._ported.pop(next(iter(self._ported)))
        if home is not None and home is not wallet.provider:
            payment.wallets = (Wallet(home, payment.payer),)
            payment.route = (*payment.route, Wallet(home, payment.payer))
            payment.record(
                "payment.wallet_resolved",
                now,
                "worker",
                prefix_network=wallet.provider.value,
                provider=home.value,
                reason="account-holder lookup after payer_not_found (number ported)",
            )

    async def _lookup_home(self, msisdn: Msisdn, hint: ProviderId) -> ProviderId | None:
        """The provider whose account-holder lookup says the number is active there."""
        order = [hint, *(p for p in ProviderId if p is not hint)]
        for provider in order:
            if not DEFAULT_PROFILES[provider].can(Capability.NAME_LOOKUP):
                continue
            try:
                info = await self._gateway.lookup(provider, msisdn)
            except DomainError:
                return None  # no answer: keep the prefix hint rather than guess
            if info.active:
                return provider
        return None

    async def _validate(self, payment: Payment, now: datetime) -> None:
        signals = await self._risk.signals(
            payer=payment.payer,
            payee_key=payment.payee.key,
            amount=payment.amount,
            at=now,
            exclude_payment_id=payment.id,
        )
        health = await self._health.snapshot(now)
        result = evaluate(
            router=self._router,
            amount=payment.amount,
            wallets=payment.wallets,
            payee=payment.payee,
            signals=signals,
            health=health,
            seed=routing_seed(payment),
            on=now.date(),
            fraud_policy=self._policy.fraud,
        )
        risk = result.risk
        payment.risk = risk.explain() if risk is not None else None
        payment.routing = result.routing.explain()
        if risk is not None and risk.decision is RiskDecision.BLOCK:
            codes = ", ".join(r.code for r in risk.reasons)
            payment.fail(now, code="risk_blocked", reason=f"blocked by risk rules: {codes}")
            return
        chosen = result.routing.chosen
        if chosen is None:
            why = "; ".join(
                f"{r.wallet.provider.value}: {r.message}" for r in result.routing.rejected
            )
            payment.fail(now, code="no_route_available", reason=f"no provider can take it ({why})")
            return
        if risk is not None and risk.decision is RiskDecision.REVIEW:
            payment.flagged_for_review = True
        payment.route = tuple(c.wallet for c in result.routing.candidates)
        payment.fee_quote = chosen.fee.explain()
        payment.fee_minor = chosen.fee.total_fee.minor
        payment.transition(
            PaymentState.PENDING,
            now,
            actor="worker",
            reason="route chosen",
            provider=chosen.wallet.provider.value,
            flagged=payment.flagged_for_review,
        )

    def _prepare_send(
        self, payment: Payment, attempt: Attempt, now: datetime
    ) -> tuple[Attempt, AttemptRequest]:
        attempt.submit_count += 1
        attempt.updated_at = now
        # If the process dies after this commit, the sweep re-sends with the same reference.
        payment.next_action_at = (
            now + self._policy.backoff.delay(attempt.submit_count, self._rng) + timedelta(seconds=5)
        )
        original = (
            payment.attempt_by_reference(attempt.original_reference)
            if attempt.original_reference
            else None
        )
        callback = (
            f"{self._policy.callback_base_url}/{attempt.provider.value}/{attempt.reference}"
            if self._policy.callback_base_url
            else None
        )
        request = AttemptRequest(
            provider=attempt.provider,
            kind=attempt.kind,
            reference=attempt.reference,
            amount=attempt.amount,
            msisdn=attempt.msisdn,
            payment_id=payment.id,
            note=(payment.description or payment.id)[:160],
            callback_url=callback,
            original_reference=attempt.original_reference,
            original_provider_transaction_id=original.provider_transaction_id if original else None,
        )
        return attempt, request

    async def _call(self, provider: ProviderId, call: Any) -> ProviderOutcome:
        started = self._clock.now()
        outcome: ProviderOutcome = await call
        finished = self._clock.now()
        verdict = outcome.counts_against_provider
        if verdict is not None:
            latency = int((finished - started).total_seconds() * 1000)
            await self._health.record(HealthSample(provider, not verdict, latency, finished))
        return outcome

    async def _check_status(self, payment_id: str, reference: str | None) -> Payment | None:
        """A callback arrived: ask the provider now (the callback itself proves nothing).

        Returns the payment as stored afterwards (None: read it again).
        """
        payment = await self._load(payment_id)
        if payment is None or reference is None:
            return payment
        attempt = payment.attempt_by_reference(reference)
        if attempt is None or not attempt.is_open:
            return payment
        if attempt.status is AttemptStatus.CREATED and attempt.submit_count == 0:
            return payment  # never sent: a callback for it cannot be ours to act on
        outcome = await self._call(
            attempt.provider,
            self._gateway.status(attempt.provider, attempt.kind, attempt.reference),
        )
        if attempt.status is AttemptStatus.CREATED and not (
            outcome.is_final or outcome.kind is OutcomeKind.PENDING
        ):
            # The callback overtook our own submit (still in flight): only a real answer
            # counts here; "not found yet" must not count against the submit in progress.
            return payment
        return await self._apply(payment_id, reference, outcome, via="status", payment=payment)

    # ---- applying provider answers -----------------------------------------
    async def _apply(
        self,
        payment_id: str,
        reference: str,
        outcome: ProviderOutcome,
        *,
        via: str,
        payment: Payment | None = None,
    ) -> Payment | None:
        """Apply a provider answer; returns the payment as stored afterwards."""
        for _ in range(3):
            try:
                return await self._apply_once(
                    payment_id, reference, outcome, via=via, payment=payment
                )
            except ConcurrencyConflict:
                payment = None  # changed meanwhile: apply to a fresh read
        msg = f"payment {payment_id} kept changing while applying a provider outcome"
        raise ConcurrencyConflict(msg)

    async def _apply_once(
        self,
        payment_id: str,
        reference: str,
        outcome: ProviderOutcome,
        *,
        via: str,
        payment: Payment | None,
    ) -> Payment | None:
        if payment is None:
            payment = await self._load(payment_id)
        if payment is None:
            return None
        attempt = payment.attempt_by_reference(reference)
        if attempt is None or not attempt.is_open:
            return payment  # duplicate or late answer: the first final answer stands
        now = self._clock.now()
        if self._may_be_ported(payment, attempt, outcome):
            await self._resolve_ported(payment, now)
        scheduled = payment.next_action_at
        if attempt.kind is AttemptKind.REFUND:
            self._apply_refund(payment, attempt, outcome, now, via=via)
        else:
            self._apply_collect(payment, attempt, outcome, now, via=via)
        async with self._uow() as uow:
            await uow.payments.save(payment)
            await uow.commit()
        if scheduled is not None and payment.next_action_at is None:
            # nothing is due any more (confirmed, failed): the look scheduled for it (the
            # lost-callback safety net) would only read it; if withdrawing fails, that look
            # still runs and finds nothing to do
            with contextlib.suppress(Exception):
                await self._queue.withdraw(Task(TaskKind.ADVANCE, payment_id), scheduled)
        return payment

    def _poll_later(self, payment: Payment, attempt: Attempt, now: datetime) -> None:
        delay = poll_delay(now - attempt.created_at, attempt.poll_count)
        attempt.poll_count += 1
        if delay is None:
            payment.record(
                "attempt.needs_manual_reconciliation", now, "worker", reference=attempt.reference
            )
            payment.next_action_at = None
            return
        payment.next_action_at = now + delay

    def _status_for(self, outcome: ProviderOutcome, attempt: Attempt) -> AttemptStatus | None:
        kind = outcome.kind
        if kind is OutcomeKind.SUCCEEDED:
            return AttemptStatus.SUCCEEDED
        if kind is OutcomeKind.FAILED:
            return AttemptStatus.FAILED
        if kind is OutcomeKind.PENDING:
            return AttemptStatus.PENDING
        if kind is OutcomeKind.UNKNOWN:
            # A status query that fails says nothing new about a pending attempt.
            return AttemptStatus.UNKNOWN if attempt.status is not AttemptStatus.PENDING else None
        return None

    def _apply_collect(
        self,
        payment: Payment,
        attempt: Attempt,
        outcome: ProviderOutcome,
        now: datetime,
        *,
        via: str,
    ) -> None:
        step = next_step(outcome, has_next_wallet=len(payment.route) > 1)
        status = self._status_for(outcome, attempt)
        if status is not None and status is not attempt.status:
            payment.update_attempt(attempt, status, outcome, now, event=f"attempt.{status.value}")
        if step is NextStep.CONFIRM:
            if payment.state is PaymentState.PROCESSING:
                payment.transition(
                    PaymentState.CONFIRMED,
                    now,
                    actor="worker",
                    reason="provider confirmed",
                    provider_transaction_id=outcome.provider_transaction_id,
                )
            else:
                # Money moved after the payment left PROCESSING (should not happen: cancel and
                # expiry wait for a final answer). Record loudly for reconciliation.
                payment.record(
                    "attempt.succeeded_late",
                    now,
                    "worker",
                    reference=attempt.reference,
                    state=payment.state.value,
                )
            return
        if step in (NextStep.KEEP_POLLING, NextStep.RECONCILE):
            self._poll_later(payment, attempt, now)
            return
        if step is NextStep.RESEND_SAME_REFERENCE:
            self._resend_or_give_up(payment, attempt, outcome, now, via=via)
            return
        # FAIL_OVER or FAIL: the attempt is definitively over.
        self._after_definitive_failure(payment, outcome, now, fail_over=step is NextStep.FAIL_OVER)

    def _resend_or_give_up(
        self,
        payment: Payment,
        attempt: Attempt,
        outcome: ProviderOutcome,
        now: datetime,
        *,
        via: str,
    ) -> None:
        if via == "status" and outcome.kind is OutcomeKind.TRANSIENT:
            # The status API hiccuped: ask again later; the attempt itself is unchanged.
            self._poll_later(payment, attempt, now)
            return
        elapsed = now - attempt.created_at
        if now >= payment.expires_at or self._policy.backoff.exhausted(
            attempt.submit_count, elapsed
        ):
            # Never accepted after every try: nothing moved, so failing over is safe.
            payment.update_attempt(
                attempt, AttemptStatus.FAILED, outcome, now, event="attempt.failed"
            )
            payment.record(
                "attempt.gave_up",
                now,
                "worker",
                reference=attempt.reference,
                tries=attempt.submit_count,
            )
            self._after_definitive_failure(payment, outcome, now, fail_over=len(payment.route) > 1)
            return
        if attempt.status is not AttemptStatus.CREATED:
            attempt.status = AttemptStatus.CREATED  # to be re-sent with the SAME reference
            payment.record(
                "attempt.resend_scheduled",
                now,
                "worker",
                reference=attempt.reference,
                outcome=outcome.kind.value,
                provider_code=outcome.provider_code,
            )
        delay = self._policy.backoff.delay(attempt.submit_count, self._rng)
        if outcome.retry_after_seconds is not None:
            delay = max(delay, timedelta(seconds=outcome.retry_after_seconds))
        payment.next_action_at = now + delay

    def _after_definitive_failure(
        self, payment: Payment, outcome: ProviderOutcome, now: datetime, *, fail_over: bool
    ) -> None:
        reason = outcome.reason.value if outcome.reason else "provider_failed"
        message = outcome.message or f"provider answered {outcome.provider_code or reason}"
        if now >= payment.expires_at and not payment.money_may_be_moving:
            payment.failure_code = "expired"
            payment.failure_reason = f"timed out; last attempt: {message}"
            payment.transition(
                PaymentState.EXPIRED, now, actor="worker", reason="transaction timeout"
            )
            return
        if fail_over:
            failed = payment.route[0]
            payment.route = payment.route[1:]
            payment.next_action_at = now
            payment.transition(
                PaymentState.PENDING,
                now,
                actor="worker",
                reason=f"failover after {reason}",
                failed_provider=failed.provider.value,
                next_provider=payment.route[0].provider.value,
            )
            return
        payment.fail(now, code=reason, reason=message)

    def _apply_refund(
        self,
        payment: Payment,
        attempt: Attempt,
        outcome: ProviderOutcome,
        now: datetime,
        *,
        via: str,
    ) -> None:
        status = self._status_for(outcome, attempt)
        if status is not None and status is not attempt.status:
            payment.update_attempt(attempt, status, outcome, now, event=f"refund.{status.value}")
        kind = outcome.kind
        if kind is OutcomeKind.SUCCEEDED:
            payment.refunded_minor += attempt.amount.minor
            if payment.refunded_minor >= payment.amount.minor:
                payment.transition(
                    PaymentState.REFUNDED, now, actor="worker", reason="refund confirmed"
                )
            else:
                payment.record(
                    "payment.partially_refunded",
                    now,
                    "worker",
                    refunded=Money(
                        payment.refunded_minor, payment.amount.currency
                    ).to_decimal_string(),
                )
                payment.next_action_at = None
        elif kind is OutcomeKind.FAILED:
            payment.record(
                "refund.rejected",
                now,
                "worker",
                reference=attempt.reference,
                reason=outcome.reason.value if outcome.reason else None,
            )
            payment.next_action_at = None
        elif kind is OutcomeKind.UNKNOWN and not DEFAULT_PROFILES[attempt.provider].can(
            Capability.REFUND_STATUS
        ):
            self._resend_unanswerable_refund(payment, attempt, outcome, now)
        elif kind in (OutcomeKind.PENDING, OutcomeKind.UNKNOWN):
            self._poll_later(payment, attempt, now)
        else:
            self._resend_or_give_up_refund(payment, attempt, outcome, now, via=via)

    def _resend_unanswerable_refund(
        self, payment: Payment, attempt: Attempt, outcome: ProviderOutcome, now: datetime
    ) -> None:
        """No refund status API (AT Money): the only way to learn the outcome is to re-send
        the same refund (same reference, same original transaction), which the provider
        answers idempotently. Never marked failed without an answer: money may have moved.
        """
        if self._policy.backoff.exhausted(attempt.submit_count, now - attempt.created_at):
            payment.record(
                "refund.needs_manual_reconciliation",
                now,
                "worker",
                reference=attempt.reference,
                provider_code=outcome.provider_code,
            )
            payment.next_action_at = None
            return
        attempt.status = AttemptStatus.CREATED
        payment.record(
            "refund.resend_scheduled",
            now,
            "worker",
            reference=attempt.reference,
            provider_code=outcome.provider_code,
        )
        payment.next_action_at = now + self._policy.backoff.delay(attempt.submit_count, self._rng)

    def _resend_or_give_up_refund(
        self,
        payment: Payment,
        attempt: Attempt,
        outcome: ProviderOutcome,
        now: datetime,
        *,
        via: str,
    ) -> None:
        if via == "status" and outcome.kind is OutcomeKind.TRANSIENT:
            self._poll_later(payment, attempt, now)
            return
        if self._policy.backoff.exhausted(attempt.submit_count, now - attempt.created_at):
            payment.update_attempt(
                attempt, AttemptStatus.FAILED, outcome, now, event="refund.failed"
            )
            payment.next_action_at = None
            return
        attempt.status = AttemptStatus.CREATED
        payment.next_action_at = now + self._policy.backoff.delay(attempt.submit_count, self._rng)
