"""The worker's use-case: load a payment, ask the lifecycle what to do, do it, save, enqueue.

Every decision is in `synccash.core.lifecycle` (pure); this module only does the I/O the
decisions name. Safe under at-least-once delivery and concurrent workers (optimistic
concurrency; a reference is persisted before it is sent, and resending always reuses it).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Final

from synccash.core import lifecycle as lc
from synccash.core.decision import evaluate
from synccash.core.errors import ConcurrencyConflict, DomainError, InsufficientBalance
from synccash.core.fees import TransferKind
from synccash.core.ledger import provider_float
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import OutcomeKind, ProviderOutcome
from synccash.core.payment import Attempt, AttemptKind, AttemptStatus, Payment, PaymentKind
from synccash.core.ports import (
    Clock,
    IdGenerator,
    Ledger,
    ProviderGateway,
    ProviderHealthStore,
    RiskContext,
    Task,
    TaskKind,
    TaskQueue,
    UnitOfWorkFactory,
)
from synccash.core.providers import ProviderId
from synccash.core.reliability import earliest_retry, sample_for
from synccash.core.routing import Router
from synccash.core.service._input import PaymentPolicy, routing_seed

_MAX_STEPS: Final = 12
_APPLY_TRIES: Final = 3

#: What one step says: take another step (True), nothing to do (False), or look again then.
More = bool | datetime


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
        ledger: Ledger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Wire the ports (`ledger`: balance reads for the float check before a payout leg)."""
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._gateway = gateway
        self._health = health
        self._risk = risk
        self._router = router
        self._policy = policy
        self._ledger = ledger
        self._decisions = policy.lifecycle
        self._rng = rng or random.Random()  # jitter only; never security

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
                payment = None  # another worker (or the API) moved it on: read it again
                continue
            if isinstance(more, datetime):
                # Waiting (a poll, a retry, a lease): schedule the next look. Identical
                # delayed tasks collapse in the queue; the sweep covers a lost one.
                await self._queue.enqueue(Task(TaskKind.ADVANCE, payment_id), at=more)
                return
            if not more:
                return
        await self._queue.enqueue(Task(TaskKind.ADVANCE, payment_id))

    # ---- one step ----------------------------------------------------------
    async def _step(self, payment_id: str, payment: Payment | None) -> tuple[More, Payment | None]:
        """One step on the payment as stored (read it when None).

        Returns what to do next and the payment as stored after the step (None: read it
        again). A new payment is checked, routed and its first attempt created in one write
        (each transition is still its own audit event), and a reference is durable before
        it is sent.
        """
        if payment is None:
            payment = await self._load(payment_id)
        if payment is None:
            return False, None
        now = self._clock.now()
        action = lc.next_action(payment, now)
        if isinstance(action, lc.Wait):
            return action.until, payment
        if isinstance(action, lc.Done):
            if payment.state.is_final or payment.next_action_at is None:
                return False, payment
            payment.wait_until(None)  # settled: nothing is due any more
        elif isinstance(action, lc.Poll):
            return True, await self._poll(payment, action.attempt)
        elif isinstance(action, lc.Check):
            await self._checks(payment, now, routing_only=action.routing_only)
            action = lc.next_action(payment, self._clock.now())
        if isinstance(action, lc.Expire):
            lc.expire(payment, self._clock.now(), action.why)
        elif isinstance(action, lc.Fail):  # pragma: no cover - defensive
            payment.fail(now, code=action.code, reason=action.reason)
        elif isinstance(action, lc.Dispatch):
            if not await self._float_covers(payment):
                lc.wait_for_float(payment, now, self._decisions)
            else:
                return True, await self._dispatch(payment, now)
        elif isinstance(action, lc.Send):
            return True, await self._send(payment, action.attempt)
        await self._save(payment)
        return True, payment

    async def _dispatch(self, payment: Payment, now: datetime) -> Payment | None:
        """Open the next leg's attempt and send it; a payout leg whose float hold the books
        refuse (a concurrent payout took the float) waits for a top-up instead."""
        try:
            return await self._send(payment, lc.dispatch(payment, now, self._ids.reference))
        except InsufficientBalance:
            fresh = await self._load(payment.id)
            if fresh is None or lc.next_action(fresh, now) != lc.Dispatch():
                return None  # moved on meanwhile: look again
            lc.wait_for_float(fresh, now, self._decisions)
            await self._save(fresh)
            return fresh

    async def _float_covers(self, payment: Payment) -> bool:
        """True unless the next leg is a payout our float at its provider cannot cover."""
        if self._ledger is None or lc.next_leg(payment) is not AttemptKind.DISBURSE:
            return True
        provider = payment.route[0].provider
        free = await self._ledger.balance(provider_float(provider), payment.amount.currency)
        return free >= payment.amount

    async def _send(self, payment: Payment, attempt: Attempt) -> Payment | None:
        now = self._clock.now()
        request = lc.prepare_send(payment, attempt, now, self._decisions, self._rng)
        # Persist before the provider call: the reference is durable before it is sent. If
        # the process dies after this commit, the sweep re-sends with the same reference.
        await self._save(payment)
        outcome = await self._call(attempt, self._gateway.submit(request))
        return await self._apply(payment.id, attempt.reference, outcome, lc.Via.SUBMIT, payment)

    async def _poll(self, payment: Payment, attempt: Attempt) -> Payment | None:
        status = self._gateway.status(attempt.provider, attempt.kind, attempt.reference)
        outcome = await self._call(attempt, status)
        return await self._apply(payment.id, attempt.reference, outcome, lc.Via.STATUS, payment)

    async def _checks(self, payment: Payment, now: datetime, *, routing_only: bool) -> None:
        """The reads the checks need (risk history, provider health), then the decision."""
        lc.begin_checks(payment, now)
        health = await self._health.snapshot(now)
        if payment.kind is PaymentKind.PAYOUT:
            lc.apply_payout_checks(payment, health, now, self._decisions)
            return
        signals = None
        if not routing_only:
            signals = await self._risk.signals(
                payer=payment.payer,
                payee_key=payment.payee.key,
                amount=payment.amount,
                at=now,
                exclude_payment_id=payment.id,
            )
        evaluation = evaluate(
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
        lc.apply_checks(
            payment, evaluation, now, self._decisions, retry_at=earliest_retry(health.values())
        )

    async def _call(self, attempt: Attempt, call: Awaitable[ProviderOutcome]) -> ProviderOutcome:
        """Make one provider call and record what it says about the provider's health.

        An accepted submit and a confirmed status are healthy samples; a timeout weighs
        less than a definite failure; a payer's decline says nothing (`sample_for`).
        """
        started = self._clock.now()
        outcome = await call
        finished = self._clock.now()
        latency = int((finished - started).total_seconds() * 1000)
        transfer = TransferKind.DISBURSEMENT if attempt.kind is AttemptKind.DISBURSE else None
        sample = sample_for(attempt.provider, outcome, latency, finished, transfer)
        if sample is not None:
            await self._health.record(sample)
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
        status = self._gateway.status(attempt.provider, attempt.kind, attempt.reference)
        outcome = await self._call(attempt, status)
        if attempt.status is AttemptStatus.CREATED and not (
            outcome.is_final or outcome.kind is OutcomeKind.PENDING
        ):
            # The callback overtook our own submit (still in flight): only a real answer
            # counts here; "not found yet" must not count against the submit in progress.
            return payment
        return await self._apply(payment_id, reference, outcome, lc.Via.STATUS, payment)

    # ---- applying provider answers -----------------------------------------
    async def _apply(
        self,
        payment_id: str,
        reference: str,
        outcome: ProviderOutcome,
        via: lc.Via,
        payment: Payment | None = None,
    ) -> Payment | None:
        """Apply a provider answer; returns the payment as stored afterwards."""
        for _ in range(_APPLY_TRIES):
            try:
                return await self._apply_once(payment_id, reference, outcome, via, payment)
            except ConcurrencyConflict:
                payment = None  # changed meanwhile: apply to a fresh read
        msg = f"payment {payment_id} kept changing while applying a provider outcome"
        raise ConcurrencyConflict(msg)

    async def _apply_once(
        self,
        payment_id: str,
        reference: str,
        outcome: ProviderOutcome,
        via: lc.Via,
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
        number = lc.lookup_for_home(payment, attempt, outcome)
        if number is not None:
            home = await self._find_home(number)
            if home is not None:
                lc.add_home(payment, attempt, home, now)
        scheduled = payment.next_action_at
        lc.apply_outcome(
            payment,
            reference,
            outcome,
            now,
            policy=self._decisions,
            rng=self._rng,
            via=via,
            new_reference=self._ids.reference,
        )
        await self._save(payment)
        if scheduled is not None and payment.next_action_at is None:
            # nothing is due any more (confirmed, failed): the look scheduled for it (the
            # lost-callback safety net) would only read it; if withdrawing fails, that look
            # still runs and finds nothing to do
            with contextlib.suppress(Exception):
                await self._queue.withdraw(Task(TaskKind.ADVANCE, payment_id), scheduled)
        return payment

    async def _find_home(self, msisdn: Msisdn) -> ProviderId | None:
        """The provider whose account-holder lookup says the number is active there."""
        for provider in lc.lookup_order(msisdn.network_hint):
            try:
                info = await self._gateway.lookup(provider, msisdn)
            except DomainError:
                return None  # no answer: keep the prefix hint rather than guess
            if info.active:
                return provider
        return None

    # ---- storage ---------------------------------------------------------------
    async def _load(self, payment_id: str) -> Payment | None:
        async with self._uow() as uow:
            return await uow.payments.load(payment_id)

    async def _save(self, payment: Payment) -> None:
        async with self._uow() as uow:
            await uow.payments.save(payment)
            await uow.commit()
