"""What the API needs from the composition root, as Protocols, and the per-app context.

`synccash.adapters.bootstrap.Container` satisfies `ApiContainer` structurally;
tests may pass any object that does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import httpx
from attrs import Factory, define, field
from litestar.params import SkipValidation

from synccash.adapters.coordination import Locks, RateLimiter
from synccash.adapters.failures import ComponentStatus, FailureLog
from synccash.adapters.merchants import ApiKeys
from synccash.adapters.settings import Settings
from synccash.adapters.urlguard import UrlGuard
from synccash.adapters.webhook_endpoints import WebhookEndpointStore
from synccash.adapters.webhooks import WebhookDeliveryStore
from synccash.api.auth import TokenCache
from synccash.api.callback_gate import CallbackGate
from synccash.api.jwks import JwksKeys
from synccash.api.observability import ApiMetrics
from synccash.core.commands import (
    CreatePayout,
    DailyReport,
    InitiatePayment,
    InitiateResult,
    QuoteRequest,
)
from synccash.core.fraud import RiskAssessment
from synccash.core.payment import Payment, PaymentEvent
from synccash.core.ports import Clock, Ledger, PaymentPage, PaymentQuery
from synccash.core.providers import ProviderId
from synccash.core.routing import RoutingDecision


class PaymentUseCases(Protocol):
    """The merchant use-cases (synccash.core.service.PaymentService)."""

    async def initiate(self, cmd: InitiatePayment) -> InitiateResult:
        """Store a new payment (or find the one for this idempotency key)."""
        ...

    async def replay(self, cmd: InitiatePayment | CreatePayout) -> InitiateResult | None:
        """The payment already stored for this idempotency key, or None."""
        ...

    async def get(self, merchant_id: str, payment_id: str) -> Payment:
        """One of the merchant's payments."""
        ...

    async def events(self, merchant_id: str, payment_id: str) -> Sequence[PaymentEvent]:
        """Its audit trail."""
        ...

    async def cancel(self, merchant_id: str, payment_id: str) -> Payment:
        """Cancel while nothing is at a provider."""
        ...

    async def refund(
        self, merchant_id: str, payment_id: str, amount: str | None, idempotency_key: str
    ) -> Payment:
        """Start a full or partial refund."""
        ...

    async def quote(self, req: QuoteRequest) -> tuple[RoutingDecision, RiskAssessment | None]:
        """The routing decision and risk assessment, nothing stored."""
        ...

    async def daily_report(self, merchant_id: str, day: date) -> DailyReport:
        """The merchant's daily report."""
        ...

    async def on_callback(self, provider: ProviderId, reference: str) -> bool:
        """A provider callback hint: enqueue a status check if the reference is ours."""
        ...

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """A page of the merchant's payments."""
        ...


class PayoutUseCases(Protocol):
    """The payout use-cases (synccash.core.service.PayoutService)."""

    async def create(self, cmd: CreatePayout) -> InitiateResult:
        """Store a new payout (or find the one for this idempotency key)."""
        ...

    async def get(self, merchant_id: str, payout_id: str) -> Payment:
        """One of the merchant's payouts."""
        ...

    async def list(self, merchant_id: str, query: PaymentQuery) -> PaymentPage:
        """A page of the merchant's payouts."""
        ...

    async def cancel(self, merchant_id: str, payout_id: str) -> Payment:
        """Cancel while nothing is at a provider."""
        ...


class ApiContainer(Protocol):
    """The parts of `synccash.adapters.bootstrap.Container` the API uses."""

    @property
    def settings(self) -> Settings:
        """Configuration."""
        ...

    @property
    def clock(self) -> Clock:
        """Time."""
        ...

    @property
    def payments(self) -> PaymentUseCases:
        """The merchant use-cases."""
        ...

    @property
    def payouts(self) -> PayoutUseCases:
        """The payout use-cases."""
        ...

    @property
    def rate_limiter(self) -> RateLimiter:
        """Per-merchant token buckets."""
        ...

    @property
    def ledger(self) -> Ledger | None:
        """The books (balances, statements, float top-ups)."""
        ...

    @property
    def locks(self) -> Locks:
        """Short leases (the idempotency key's in-flight lock)."""
        ...

    @property
    def api_keys(self) -> ApiKeys:
        """The merchant registry and its API keys."""
        ...

    @property
    def webhook_endpoints(self) -> WebhookEndpointStore:
        """Merchants' webhook endpoints."""
        ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveryStore:
        """Webhook deliveries (the endpoints' deliveries log)."""
        ...

    @property
    def url_guard(self) -> UrlGuard:
        """Which merchant URLs may be called (SSRF guard)."""
        ...

    @property
    def failures(self) -> FailureLog:
        """Components of this process that keep failing (the detailed health check)."""
        ...

    async def component_statuses(self) -> dict[str, list[ComponentStatus]]:
        """Failing-component flags of this process and of the workers, by process."""
        ...

    async def check_database(self) -> float:
        """Database round trip in ms; raises when unreachable."""
        ...

    async def check_redis(self) -> float | None:
        """Redis round trip in ms, None when Redis is not configured."""
        ...

    async def check_providers(self) -> dict[str, dict[str, Any]]:
        """Per provider: status and latency."""
        ...


class NotStarted(RuntimeError):
    """A request arrived before the app's lifespan bound the container."""


@define
class ApiContext:
    """Everything a request needs, built once per app; the container may be bound at startup."""

    settings: Settings
    metrics: ApiMetrics = field(
        default=Factory(
            lambda self: ApiMetrics(self.settings.prometheus_multiproc_dir), takes_self=True
        )
    )
    tokens: TokenCache = field(factory=TokenCache)
    bound: ApiContainer | None = None
    callback_gate: CallbackGate = field(
        default=Factory(lambda self: CallbackGate(self.settings.callbacks), takes_self=True)
    )
    jwks_client: httpx.AsyncClient | None = None  # for AUTH_JWKS_URL (tests inject one)
    _jwks: JwksKeys | None = None

    @property
    def container(self) -> ApiContainer:
        """The bound container."""
        if self.bound is None:
            raise NotStarted("the API container is not bound yet (lifespan not started)")
        return self.bound

    @property
    def rate_limiter(self) -> RateLimiter:
        """The container's per-merchant token buckets."""
        return self.container.rate_limiter

    @property
    def locks(self) -> Locks:
        """The container's locks (Redis in production, in-process in memory)."""
        return self.container.locks

    @property
    def api_keys(self) -> ApiKeys:
        """The container's API keys and merchant registry."""
        return self.container.api_keys

    @property
    def url_guard(self) -> UrlGuard:
        """The container's check of merchant URLs (the one the worker delivers through)."""
        return self.container.url_guard

    @property
    def jwks(self) -> JwksKeys | None:
        """The identity service's keys when AUTH_JWKS_URL is set (one cache per app)."""
        if not self.settings.auth_jwks_url:
            return None
        if self._jwks is None:
            client = self.jwks_client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
            self._jwks = JwksKeys(self.settings.auth_jwks_url, client)
        return self._jwks


#: Handler parameter types for the app-level dependencies (no per-request validation).
Payments = SkipValidation[PaymentUseCases]
