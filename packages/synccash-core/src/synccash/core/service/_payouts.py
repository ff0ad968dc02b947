"""Payouts: money out from a merchant's balance to any wallet (one DISBURSE leg).

A payout is a `Payment` of kind PAYOUT: the same state machine, audit trail, outbox events
and webhooks as a collection, driven by the same lifecycle table. Its route is the payee's
network (the merchant's `provider`, else the number's prefix; a ported number is found by
the account-holder lookup when that network answers payee_not_found). The amount is
reserved out of the merchant's available balance when the payout is stored (the books
refuse one the balance cannot cover: `insufficient_balance`, nothing stored).
"""

from __future__ import annotations

from attrs import evolve

from synccash.core import lifecycle as lc
from synccash.core.commands import CreatePayout, InitiateResult
from synccash.core.errors import (
    DomainError,
    NameCheckUnavailable,
    NameMismatch,
    PayeeNotFound,
    PaymentNotFound,
    ValidationError,
)
from synccash.core.msisdn import Msisdn
from synccash.core.names import names_match
from synccash.core.payment import Payee, Payment, PaymentKind
from synccash.core.ports import (
    AccountInfo,
    Clock,
    IdGenerator,
    PaymentPage,
    PaymentQuery,
    ProviderGateway,
)
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.service._input import (
    MAX_DESCRIPTION,
    MAX_TEXT,
    PaymentPolicy,
    check_metadata,
    check_text,
    check_webhook,
    parse_amount,
)
from synccash.core.service._payments import PaymentService


class PayoutService:
    """Use-cases behind `/api/v1/payouts`."""

    def __init__(
        self,
        *,
        payments: PaymentService,
        clock: Clock,
        ids: IdGenerator,
        gateway: ProviderGateway,
        policy: PaymentPolicy,
    ) -> None:
        """Wire the ports (`payments`: the shared store, replay, read and cancel use-cases)."""
        self._payments = payments
        self._clock = clock
        self._ids = ids
        self._gateway = gateway
        self._policy = policy

    async def create(self, cmd: CreatePayout) -> InitiateResult:
        """Validate, check the payee's name when asked, and durably store a new payout."""
        amount = parse_amount(cmd.amount, cmd.currency, self._policy)
        payee = Msisdn.parse(cmd.payee_msisdn)
        provider = None if cmd.provider is None else ProviderId.parse(cmd.provider)
        if provider is not None and not DEFAULT_PROFILES[provider].can(Capability.DISBURSE):
            raise ValidationError(f"{provider.value} cannot pay out", code="unknown_provider")
        check_text("expected_name", cmd.expected_name)
        check_text("reference", cmd.reference)
        check_text("description", cmd.description, MAX_DESCRIPTION)
        check_metadata(cmd.metadata)
        check_webhook(cmd.webhook_url)
        if not cmd.idempotency_key or len(cmd.idempotency_key) > MAX_TEXT:
            raise ValidationError(
                "Idempotency-Key must be 1-255 characters", code="invalid_idempotency_key"
            )
        replay = await self._payments.replay(cmd)
        if replay is not None:
            return replay  # no second name lookup for a retried request
        if cmd.expected_name is not None:
            provider = await self._check_name(payee, provider, cmd.expected_name)
        now = self._clock.now()
        payment = Payment.initiate(
            payment_id=self._ids.payment_id(),
            merchant_id=cmd.merchant_id,
            amount=amount,
            # the wallet on the other side: payouts are left out of payer risk history
            payer=payee,
            wallets=lc.payout_route(payee, provider),
            payee=Payee(msisdn=payee),
            now=now,
            expires_at=now + self._policy.timeout,
            description=cmd.description,
            reference=cmd.reference,
            metadata=cmd.metadata,
            webhook_url=cmd.webhook_url,
            idempotency_key=cmd.idempotency_key,
            fingerprint=cmd.fingerprint,
            kind=PaymentKind.PAYOUT,
        )
        return await self._payments.store_new(payment, cmd)

    async def _check_name(
        self, payee: Msisdn, provider: ProviderId | None, expected: str
    ) -> ProviderId:
        """The network whose account-holder lookup knows the payee under `expected`.

        Asked before anything is stored: a mismatch is the merchant's 422 and moves nothing.
        """
        info = await self._holder(payee, provider)
        if info is None:
            raise PayeeNotFound(f"no network has an active wallet for {payee.masked}")
        if info.name is None or not names_match(expected, info.name):
            raise NameMismatch(
                f"the {info.provider.value} wallet {payee.masked} is not held by that name"
            )
        return info.provider

    async def _holder(self, payee: Msisdn, provider: ProviderId | None) -> AccountInfo | None:
        # the payee's own network must be able to answer: the others cannot say it is not there
        home = provider if provider is not None else payee.network_hint
        if not DEFAULT_PROFILES[home].can(Capability.NAME_LOOKUP):
            raise NameCheckUnavailable(
                f"{home.value} has no account-holder lookup: leave expected_name out"
            )
        order = (provider,) if provider is not None else lc.lookup_order(payee.network_hint)
        for candidate in order:
            try:
                info = await self._gateway.lookup(candidate, payee)
            except DomainError as exc:
                raise NameCheckUnavailable(
                    f"{candidate.value} did not answer the account-holder lookup; try again"
                ) from exc
            if info.active:
                return info
        return None

    async def get(self, merchant_id: str, payout_id: str) -> Payment:
        """One of the merchant's payouts (a collection's id is not found here)."""
        payment = await self._payments.get(merchant_id, payout_id)
        if payment.kind is not PaymentKind.PAYOUT:
            raise PaymentNotFound(f"no payout {payout_id!r}")
        return payment

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """The merchant's payouts, newest first."""
        return await self._payments.list(merchant_id, evolve(query, kind=PaymentKind.PAYOUT))

    async def cancel(self, merchant_id: str, payout_id: str) -> Payment:
        """Cancel while nothing is at a provider (the reservation is released)."""
        await self.get(merchant_id, payout_id)
        return await self._payments.cancel(merchant_id, payout_id)
