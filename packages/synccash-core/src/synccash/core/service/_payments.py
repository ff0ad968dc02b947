"""Merchant use-cases behind the API: initiate, read, list, cancel, refund, quote, report, callbacks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from synccash.core.commands import (
    CreatePayout,
    DailyReport,
    InitiatePayment,
    InitiateResult,
    QuoteRequest,
)
from synccash.core.decision import evaluate
from synccash.core.errors import (
    ConcurrencyConflict,
    IdempotencyKeyReused,
    PaymentNotCancellable,
    PaymentNotFound,
    PaymentNotRefundable,
    ValidationError,
)
from synccash.core.fraud import RiskAssessment
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import (
    AttemptKind,
    Payment,
    PaymentEvent,
)
from synccash.core.ports import (
    Clock,
    IdGenerator,
    PaymentPage,
    PaymentQuery,
    ProviderHealthStore,
    Task,
    TaskKind,
    TaskQueue,
    UnitOfWorkFactory,
)
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.routing import Router, RoutingDecision
from synccash.core.service._input import (
    MAX_DESCRIPTION,
    MAX_TEXT,
    PaymentPolicy,
    check_metadata,
    check_text,
    check_webhook,
    parse_amount,
    parse_payee,
    parse_wallets,
)

_REFUND_NAMESPACE: Final = uuid.UUID("6b1f0d1e-5a43-4c8e-9a4f-2f1d8c3b7e10")
#: How often a cancel that lost a race with the worker decides again on the fresh state.
_CANCEL_TRIES: Final = 5


# --------------------------------------------------------------------------- merchant use-cases
class PaymentService:
    """Use-cases behind the merchant API."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        queue: TaskQueue,
        clock: Clock,
        ids: IdGenerator,
        health: ProviderHealthStore,
        router: Router,
        policy: PaymentPolicy,
    ) -> None:
        """Wire the ports."""
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._health = health
        self._router = router
        self._policy = policy

    async def initiate(self, cmd: InitiatePayment) -> InitiateResult:
        """Validate and durably store a new payment (INITIATED), then enqueue its first step."""
        amount = parse_amount(cmd.amount, cmd.currency, self._policy)
        payer = Msisdn.parse(cmd.payer_msisdn)
        wallets = parse_wallets(payer, cmd.wallets, cmd.currency)
        payee = parse_payee(cmd.payee_msisdn, cmd.payee_account)
        check_text("reference", cmd.reference)
        check_text("description", cmd.description, MAX_DESCRIPTION)
        check_metadata(cmd.metadata)
        check_webhook(cmd.webhook_url)
        if not cmd.idempotency_key or len(cmd.idempotency_key) > MAX_TEXT:
            raise ValidationError(
                "Idempotency-Key must be 1-255 characters", code="invalid_idempotency_key"
            )
        # No look-up first: the insert itself detects a reused key (one round trip for the
        # common case); a conflict is then answered from the stored payment.
        now = self._clock.now()
        payment = Payment.initiate(
            payment_id=self._ids.payment_id(),
            merchant_id=cmd.merchant_id,
            amount=amount,
            payer=payer,
            wallets=wallets,
            payee=payee,
            now=now,
            expires_at=now + self._policy.timeout,
            description=cmd.description,
            reference=cmd.reference,
            metadata=cmd.metadata,
            webhook_url=cmd.webhook_url,
            idempotency_key=cmd.idempotency_key,
            fingerprint=cmd.fingerprint,
        )
        return await self.store_new(payment, cmd)

    async def store_new(
        self, payment: Payment, cmd: InitiatePayment | CreatePayout
    ) -> InitiateResult:
        """Store a new payment (or payout) and queue its first step; a taken idempotency key
        is answered as a replay (or IdempotencyKeyReused)."""
        try:
            async with self._uow() as uow:
                await uow.payments.add(payment)
                await uow.commit()
        except ConcurrencyConflict:
            # The key is taken (an earlier or concurrent request): answer as a replay.
            replay = await self._existing(cmd)
            if replay is None:
                raise
            return replay
        await self._queue.enqueue(Task(TaskKind.ADVANCE, payment.id))
        return InitiateResult(payment, replayed=False)

    async def replay(self, cmd: InitiatePayment | CreatePayout) -> InitiateResult | None:
        """The stored payment for this request's idempotency key (a replay), or None when
        nothing is stored yet; IdempotencyKeyReused when the key came with another request.

        A stored payment wins over an in-flight lock on its key: the request holding the
        lock may have died right after its commit.
        """
        return await self._existing(cmd)

    async def _existing(self, cmd: InitiatePayment | CreatePayout) -> InitiateResult | None:
        async with self._uow() as uow:
            found = await uow.payments.get_by_idempotency_key(cmd.merchant_id, cmd.idempotency_key)
        if found is None:
            return None
        if found.fingerprint != cmd.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request; "
                "use a new key for a new payment"
            )
        return InitiateResult(found, replayed=True)

    async def get(self, merchant_id: str, payment_id: str) -> Payment:
        """One of the merchant's payments (another merchant's id is not found)."""
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id, merchant_id)
        if payment is None:
            raise PaymentNotFound(f"no payment {payment_id!r}")
        return payment

    async def events(self, merchant_id: str, payment_id: str) -> Sequence[PaymentEvent]:
        """The audit trail of one of the merchant's payments."""
        payment = await self.get(merchant_id, payment_id)
        return payment.events

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """The merchant's payments, newest first, filtered and paginated."""
        if not 1 <= query.limit <= 200:
            raise ValidationError("limit must be between 1 and 200", code="invalid_limit")
        check_text("reference", query.reference)
        if query.cursor is not None:
            try:
                uuid.UUID(query.cursor)
            except ValueError:
                raise ValidationError(
                    "cursor must be the next_cursor of a previous page", code="invalid_cursor"
                ) from None
        async with self._uow() as uow:
            return await uow.payments.list(merchant_id, query)

    async def cancel(self, merchant_id: str, payment_id: str) -> Payment:
        """Cancel while nothing is at a provider; PaymentNotCancellable otherwise.

        A cancel that loses a race with the worker (the payment changed between its read
        and its write) decides again on the fresh state: the merchant sees CANCELLED or
        `payment_not_cancellable`, never the internal conflict.
        """
        for _ in range(_CANCEL_TRIES - 1):
            try:
                return await self._cancel_once(merchant_id, payment_id)
            except ConcurrencyConflict:
                continue
        try:
            return await self._cancel_once(merchant_id, payment_id)
        except ConcurrencyConflict as exc:
            raise PaymentNotCancellable(
                "the payment is being processed and cannot be cancelled now"
            ) from exc

    async def _cancel_once(self, merchant_id: str, payment_id: str) -> Payment:
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id, merchant_id)
            if payment is None:
                raise PaymentNotFound(f"no payment {payment_id!r}")
            payment.cancel(self._clock.now())
            await uow.payments.save(payment)
            await uow.commit()
        return payment

    async def refund(
        self, merchant_id: str, payment_id: str, amount: str | None, idempotency_key: str
    ) -> Payment:
        """Start a full (amount=None) or partial refund of a CONFIRMED payment; replay-safe per key."""
        # Deterministic per (payment, key) so a replayed request finds its attempt, and
        # shaped as a UUID v4 because providers (MTN's X-Reference-Id) require v4.
        digest = uuid.uuid5(_REFUND_NAMESPACE, f"{payment_id}:{idempotency_key}")
        reference = str(uuid.UUID(bytes=digest.bytes, version=4))
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id, merchant_id)
            if payment is None:
                raise PaymentNotFound(f"no payment {payment_id!r}")
            existing = payment.attempt_by_reference(reference)
            value = (
                Money.parse(amount, payment.amount.currency)
                if amount is not None
                else (existing.amount if existing is not None else payment.refundable)
            )
            if existing is not None:
                if existing.amount != value:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was already used for a refund of a different amount"
                    )
                return payment
            payment.check_refund(value)
            paid = payment.succeeded_attempt
            assert paid is not None  # noqa: S101  (CONFIRMED implies a succeeded attempt)
            profile = DEFAULT_PROFILES[paid.provider]
            if value != payment.refundable and not profile.can(Capability.PARTIAL_REFUND):
                raise PaymentNotRefundable(
                    f"{paid.provider.display_name} refunds only in full: refund "
                    f"{payment.refundable.to_decimal_string()} or nothing"
                )
            now = self._clock.now()
            payment.add_attempt(
                reference=reference,
                provider=paid.provider,
                kind=AttemptKind.REFUND,
                msisdn=paid.msisdn,
                amount=value,
                at=now,
                actor="merchant",
                original_reference=paid.reference,
            )
            payment.record(
                "refund.requested",
                now,
                "merchant",
                amount=value.to_decimal_string(),
                reference=reference,
            )
            payment.next_action_at = now
            await uow.payments.save(payment)
            await uow.commit()
        await self._queue.enqueue(Task(TaskKind.ADVANCE, payment.id))
        return payment

    async def quote(self, req: QuoteRequest) -> tuple[RoutingDecision, RiskAssessment | None]:
        """What the router would choose now, with fees and the full explanation; nothing stored."""
        amount = parse_amount(req.amount, req.currency, self._policy)
        payer = Msisdn.parse(req.payer_msisdn)
        wallets = parse_wallets(payer, req.wallets, req.currency)
        payee = parse_payee(req.payee_msisdn, req.payee_account)
        now = self._clock.now()
        health = await self._health.snapshot(now)
        result = evaluate(
            router=self._router,
            amount=amount,
            wallets=wallets,
            payee=payee,
            signals=None,
            health=health,
            seed=int(now.timestamp()),
            on=now.date(),
        )
        return result.routing, result.risk

    async def daily_report(self, merchant_id: str, day: date) -> DailyReport:
        """Counts and sums of the merchant's payments created on `day` (UTC)."""
        async with self._uow() as uow:
            rows = await uow.payments.daily_totals(merchant_id, day)
        return DailyReport.from_rows(merchant_id, day, tuple(rows))

    async def on_callback(self, provider: ProviderId, reference: str) -> bool:
        """A provider callback is a hint: enqueue a status check if the reference is ours."""
        async with self._uow() as uow:
            owner = await uow.payments.attempt_owner(reference)
        if owner is None or owner.provider is not provider:
            return False
        await self._queue.enqueue(Task(TaskKind.CHECK_STATUS, owner.payment_id, hint=reference))
        return True


def risk_summary(risk: Mapping[str, Any] | None) -> str:
    """One-line summary of a stored risk assessment, for logs and the CLI."""
    if not risk:
        return "not assessed"
    return f"{risk.get('decision')} (score {risk.get('score')})"
