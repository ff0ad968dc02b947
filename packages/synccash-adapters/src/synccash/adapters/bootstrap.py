"""The one composition root: ports in, a typed `Container` of wired use-cases out.

- `wire(settings, **ports)` is the only place a `Container` is built. Every port left
  `None` is the in-memory one (nothing is opened): tests pass the fakes they need.
- `bootstrap(settings, ...)` opens what the settings name (the SQL engine, Redis, the
  provider HTTP clients), hands it to `wire`, and closes it all on exit. Each kind of
  resource has its own opener below (`_open_storage`, `_open_redis`, `_open_provider_clients`):
  a new engine or port is injected there, not looked up elsewhere.

The provider sandboxes are not built here: `synccash serve` and `synccash worker` start them
in-process (SANDBOX_MODE=embedded) and pass their clients in as `provider_clients`, so the
adapters never import the tools package.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from attrs import define, field, frozen

from synccash.adapters.clock import SystemClock, UuidIds
from synccash.adapters.coordination import ConsumableTaskQueue, Locks, RateLimiter
from synccash.adapters.failures import ComponentStatus, FailureLog
from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.memory.health import InMemoryHealthStore
from synccash.adapters.memory.ledger import InMemoryLedger
from synccash.adapters.memory.queue import MemoryTaskQueue
from synccash.adapters.memory.ratelimit import MemoryLocks, MemoryRateLimiter
from synccash.adapters.memory.repository import (
    InMemoryOutbox,
    InMemoryRiskContext,
    InMemoryStore,
    InMemoryUnitOfWorkFactory,
)
from synccash.adapters.merchants import ApiKeys, InMemoryMerchantRegistry, MerchantRegistry
from synccash.adapters.providers.metered import MeteredGateway
from synccash.adapters.providers.ported import PortedNumberCache
from synccash.adapters.risk_ops import InMemoryRiskOperations, RiskOperations
from synccash.adapters.settings import Settings
from synccash.adapters.urlguard import UrlGuard, merchant_http_client
from synccash.adapters.webhook_endpoints import InMemoryWebhookEndpoints, WebhookEndpointStore
from synccash.adapters.webhooks import InMemoryWebhookDeliveries, WebhookDeliveryStore
from synccash.core.ports import (
    Clock,
    EventPublisher,
    IdGenerator,
    Ledger,
    Outbox,
    ProviderGateway,
    ProviderHealthStore,
    RiskContext,
    UnitOfWorkFactory,
)
from synccash.core.providers import ProviderId
from synccash.core.routing import Router
from synccash.core.service import LifecycleService, PaymentPolicy, PaymentService, PayoutService

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from synccash.adapters.providers.gateway import HttpClients
    from synccash.adapters.providers.metered import CallObserver
    from synccash.adapters.sql import SqlReconciliation

#: One provider status line of `/health/detailed`: circuit, success rate, latencies.
ProviderStatus = dict[str, str | float | int | None]
#: A round trip that raises when its dependency is unreachable.
Probe = Callable[[], Awaitable[None]]


class _NullPublisher:
    """Without Redis there is no event stream: events stay in the outbox (webhooks still go out)."""

    async def publish(self, event_id: str, payment_id: str, type_: str, data: object) -> None:
        """Nothing to publish to."""


async def _always_up() -> None:
    """The in-memory store is always reachable."""


def _no_network(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("an in-memory container has no network", request=request)


@frozen
class Storage:
    """The ports kept in the database, built together over one engine (or one memory store)."""

    uow: UnitOfWorkFactory
    risk: RiskContext
    outbox: Outbox
    webhook_deliveries: WebhookDeliveryStore
    ping: Probe
    ledger: Ledger | None = None  # the books (balances, statements, top-ups)
    #: registered merchants and their API key records
    merchants: MerchantRegistry = field(factory=InMemoryMerchantRegistry)
    webhook_endpoints: WebhookEndpointStore = field(factory=InMemoryWebhookEndpoints)
    risk_ops: RiskOperations | None = None  # review queue, decisions, blocklist, audit
    #: staged provider statements, reconciliation runs and exceptions (SQL only)
    reconciliation: SqlReconciliation | None = None


def memory_storage() -> Storage:
    """Every stored port over one in-memory store."""
    store = InMemoryStore()
    return Storage(
        uow=InMemoryUnitOfWorkFactory(store),
        risk=InMemoryRiskContext(store),
        outbox=InMemoryOutbox(store),
        webhook_deliveries=InMemoryWebhookDeliveries(),
        ping=_always_up,
        ledger=InMemoryLedger(store.books),
        merchants=InMemoryMerchantRegistry(),
        risk_ops=InMemoryRiskOperations(store),
    )


@frozen
class Coordination:
    """The ports shared between processes through Redis (or kept in this process)."""

    queue: ConsumableTaskQueue
    health: ProviderHealthStore
    rate_limiter: RateLimiter
    locks: Locks
    publisher: EventPublisher
    redis: Redis | None = None


@define
class Container:
    """Everything an entry point needs, built once by `wire`."""

    settings: Settings
    clock: Clock
    ids: IdGenerator
    uow: UnitOfWorkFactory
    risk: RiskContext
    outbox: Outbox
    webhook_deliveries: WebhookDeliveryStore
    ledger: Ledger | None
    payments: PaymentService
    payouts: PayoutService
    lifecycle: LifecycleService
    queue: ConsumableTaskQueue
    health: ProviderHealthStore
    gateway: ProviderGateway
    rate_limiter: RateLimiter
    locks: Locks
    publisher: EventPublisher
    webhook_http: httpx.AsyncClient
    url_guard: UrlGuard
    api_keys: ApiKeys  # the merchant registry and its API keys
    webhook_endpoints: WebhookEndpointStore
    ping_database: Probe
    redis: Redis | None
    #: Components of this process that keep failing (quiet logs, metrics, detailed health).
    failures: FailureLog
    #: Fraud operations (review queue, decisions, blocklist, audit).
    risk_ops: RiskOperations | None = None
    #: Reconciliation runs and exceptions (SQL storage only).
    reconciliation: SqlReconciliation | None = None

    async def check_database(self) -> float:
        """Round-trip to the database; latency in ms. Raises if unreachable."""
        started = time.perf_counter()
        await self.ping_database()
        return (time.perf_counter() - started) * 1000

    async def check_redis(self) -> float | None:
        """PING Redis; latency in ms, None when no Redis is configured."""
        if self.redis is None:
            return None
        started = time.perf_counter()
        await self.redis.ping()
        return (time.perf_counter() - started) * 1000

    async def component_statuses(self) -> dict[str, list[ComponentStatus]]:
        """Failing-component flags: this process's ("self"), and every worker's that
        reports through Redis (relay, scheduler, consumers), by process name."""
        statuses = {"self": self.failures.statuses()}
        if self.redis is not None:
            from synccash.adapters.redis.components import read_components  # noqa: PLC0415

            statuses.update(await read_components(self.redis))
        return statuses

    async def check_providers(self) -> dict[str, ProviderStatus]:
        """Per provider: circuit state and success rate as routing sees them."""
        now = self.clock.now()
        snapshot = await self.health.snapshot(now)
        result: dict[str, ProviderStatus] = {}
        for provider in ProviderId:
            health = snapshot.get(provider)
            if health is None:
                result[provider.value] = {"status": "unknown"}
                continue
            status = {"closed": "ok", "open": "down"}.get(health.circuit.value, "degraded")
            result[provider.value] = {
                "status": status,
                "circuit": health.circuit.value,
                "success_rate": round(health.success_rate, 4),
                "samples": health.samples,
                "p50_latency_ms": health.p50_latency_ms,
                "p95_latency_ms": health.p95_latency_ms,
            }
            for window in self.settings.maintenance_windows:
                if window.provider is provider and window.covers(now):
                    result[provider.value]["maintenance_until"] = window.end.isoformat()
        return result


def payment_policy(settings: Settings) -> PaymentPolicy:
    """The use-case policy from settings."""
    return PaymentPolicy(
        min_amount=settings.min_amount,
        max_amount=settings.max_amount,
        timeout=timedelta(seconds=settings.transaction_timeout_seconds),
        callback_base_url=f"{settings.public_base_url}/api/v1/callbacks",
    )


def build_api_keys(settings: Settings, registry: MerchantRegistry, clock: Clock) -> ApiKeys:
    """API keys over `registry`: `sk_live_` keys only against real providers."""
    live = not settings.embedded_sandboxes and settings.mtn_target_environment != "sandbox"
    return ApiKeys(registry, secret=settings.api_key_secret, clock=clock, live=live)


def memory_coordination(settings: Settings, clock: Clock) -> Coordination:
    """Queue, health, rate limits, locks in this process; no event stream."""
    return Coordination(
        queue=MemoryTaskQueue(clock=clock),
        health=InMemoryHealthStore(),
        rate_limiter=MemoryRateLimiter(
            capacity=settings.rate_limit_burst,
            per_second=settings.rate_limit_per_second,
            clock=clock,
        ),
        locks=MemoryLocks(clock=clock),
        publisher=_NullPublisher(),
    )


def wire(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    gateway: ProviderGateway | None = None,
    queue: ConsumableTaskQueue | None = None,
    health: ProviderHealthStore | None = None,
    rate_limiter: RateLimiter | None = None,
    locks: Locks | None = None,
    publisher: EventPublisher | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    router: Router | None = None,
    webhook_http: httpx.AsyncClient | None = None,
    url_guard: UrlGuard | None = None,
    failures: FailureLog | None = None,
) -> Container:
    """Wire the use-cases over the given ports; each one left `None` is the in-memory one.

    The in-memory defaults touch nothing outside the process: a `FakeProviderGateway`, and a
    webhook client that refuses to connect (pass `webhook_http` to deliver for real).
    """
    settings = settings if settings is not None else Settings.from_env({})
    clock = clock if clock is not None else SystemClock()
    ids = ids if ids is not None else UuidIds()
    router = router if router is not None else Router()
    storage = storage if storage is not None else memory_storage()
    gateway = gateway if gateway is not None else FakeProviderGateway()
    local = memory_coordination(settings, clock)
    queue = queue if queue is not None else local.queue
    health = health if health is not None else local.health
    policy = payment_policy(settings)
    payments = PaymentService(
        uow=storage.uow,
        queue=queue,
        clock=clock,
        ids=ids,
        health=health,
        router=router,
        policy=policy,
    )
    lookups = PortedNumberCache(gateway)  # account-holder lookups remembered per process
    return Container(
        settings=settings,
        clock=clock,
        ids=ids,
        uow=storage.uow,
        risk=storage.risk,
        outbox=storage.outbox,
        webhook_deliveries=storage.webhook_deliveries,
        ledger=storage.ledger,
        payments=payments,
        payouts=PayoutService(
            payments=payments, clock=clock, ids=ids, gateway=lookups, policy=policy
        ),
        lifecycle=LifecycleService(
            uow=storage.uow,
            queue=queue,
            clock=clock,
            ids=ids,
            gateway=lookups,
            health=health,
            risk=storage.risk,
            router=router,
            policy=policy,
            ledger=storage.ledger,
        ),
        queue=queue,
        health=health,
        gateway=gateway,
        rate_limiter=rate_limiter if rate_limiter is not None else local.rate_limiter,
        locks=locks if locks is not None else local.locks,
        publisher=publisher if publisher is not None else local.publisher,
        webhook_http=(
            webhook_http
            if webhook_http is not None
            else httpx.AsyncClient(transport=httpx.MockTransport(_no_network))
        ),
        url_guard=(
            url_guard
            if url_guard is not None
            else UrlGuard.from_setting(settings.webhook_allowed_targets)
        ),
        api_keys=build_api_keys(settings, storage.merchants, clock),
        webhook_endpoints=storage.webhook_endpoints,
        ping_database=storage.ping,
        redis=redis,
        failures=failures if failures is not None else FailureLog(),
        risk_ops=storage.risk_ops,
        reconciliation=storage.reconciliation,
    )


def _metered(gateway: ProviderGateway, observe: CallObserver | None) -> ProviderGateway:
    """The gateway, timed per call when someone observes (the worker's metrics)."""
    return gateway if observe is None else MeteredGateway(gateway, observe)


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    provider_clients: HttpClients | None = None,
    clock: Clock | None = None,
    migrate_sqlite: bool = True,
    observe_provider_call: CallObserver | None = None,
) -> AsyncIterator[Container]:
    """Open the adapters the settings name, wire them, and close them on exit.

    `provider_clients` (one client, or one per provider) reach the providers; without them,
    clients to the providers' base URLs from settings are opened. The caller owns clients it
    passes in (the CLI's in-process sandboxes, a test's `httpx.MockTransport`).
    """
    clock = clock if clock is not None else SystemClock()
    failures = FailureLog()
    async with AsyncExitStack() as stack:
        storage = await _open_storage(
            settings, stack, migrate_sqlite=migrate_sqlite, failures=failures
        )
        coordination = (
            await _open_redis(settings, stack, clock)
            if settings.redis_url
            else memory_coordination(settings, clock)
        )
        if provider_clients is None:
            provider_clients = await _open_provider_clients(settings, stack)
        from synccash.adapters.maintenance import with_maintenance  # noqa: PLC0415
        from synccash.adapters.providers import build_gateway  # noqa: PLC0415
        from synccash.adapters.providers.budget import budgeted  # noqa: PLC0415

        # merchant URLs: SSRF-guarded connects (every DNS answer checked), no redirects
        url_guard = UrlGuard.from_setting(settings.webhook_allowed_targets)
        webhook_http = await stack.enter_async_context(
            merchant_http_client(url_guard, proxy=settings.webhook_proxy_url)
        )
        yield wire(
            settings,
            storage=storage,
            gateway=_metered(
                budgeted(  # status queries within each provider's budget, shared via Redis
                    build_gateway(settings, provider_clients),
                    settings.status_query_budgets,
                    redis=coordination.redis,
                    clock=clock,
                    egress=settings.provider_egress_address,
                ),
                observe_provider_call,
            ),
            queue=coordination.queue,
            health=with_maintenance(coordination.health, settings.maintenance_windows),
            rate_limiter=coordination.rate_limiter,
            locks=coordination.locks,
            publisher=coordination.publisher,
            redis=coordination.redis,
            clock=clock,
            webhook_http=webhook_http,
            url_guard=url_guard,
            failures=failures,
        )


async def _open_storage(
    settings: Settings, stack: AsyncExitStack, *, migrate_sqlite: bool, failures: FailureLog
) -> Storage:
    """The SQL engine (SQLite migrated on start when asked), checked, and the ports over it."""
    from synccash.adapters import sql  # noqa: PLC0415  (keep memory-only imports light)

    if settings.database_url.startswith("sqlite") and migrate_sqlite:
        _ensure_sqlite_dir(settings.database_url)
        await sql.migrate(settings.database_url)
    engine = sql.create_engine_from_settings(settings)
    stack.push_async_callback(engine.dispose)
    await sql.check_schema(engine)
    # PostgreSQL: concurrent lone writes share a round trip and a commit (group commit)
    uow = sql.SqlUnitOfWorkFactory(
        engine, group_commit=settings.engine_group_commit, failures=failures
    )
    stack.push_async_callback(uow.aclose)

    async def ping() -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    return Storage(
        uow=uow,
        risk=sql.SqlRiskContext(engine, uow.reader),
        outbox=sql.SqlOutbox(engine),
        webhook_deliveries=sql.SqlWebhookDeliveries(engine),
        ping=ping,
        merchants=sql.SqlMerchantRegistry(engine),
        ledger=sql.SqlLedger(engine),
        webhook_endpoints=sql.SqlWebhookEndpoints(engine),
        risk_ops=sql.SqlRiskOperations(engine),
        reconciliation=sql.SqlReconciliation(engine),
    )


async def _open_redis(settings: Settings, stack: AsyncExitStack, clock: Clock) -> Coordination:
    """The queue, health, rate limits, locks and event stream on Redis."""
    from redis.asyncio import Redis  # noqa: PLC0415

    from synccash.adapters.engines.resp import LeanRedis  # noqa: PLC0415
    from synccash.adapters.redis.events import RedisEventPublisher  # noqa: PLC0415
    from synccash.adapters.redis.health import RedisHealthStore  # noqa: PLC0415
    from synccash.adapters.redis.queue import RedisTaskQueue  # noqa: PLC0415
    from synccash.adapters.redis.ratelimit import RedisLocks, RedisRateLimiter  # noqa: PLC0415

    client = Redis.from_url(
        settings.redis_url,
        max_connections=256,
        # a crashed or vanished Redis is noticed, and a pooled connection replaced
        socket_keepalive=True,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    stack.push_async_callback(client.aclose)
    # the engine: one pipelined connection per process for the hot commands of the queue,
    # the rate limiter and the locks (ENGINE_REDIS=redis-py: everything through redis-py)
    lean = LeanRedis.from_client(client) if settings.engine_redis == "pipelined" else None
    if lean is not None:
        stack.callback(lean.close)
    queue = RedisTaskQueue(client, lean=lean, clock=clock)
    await queue.ensure_group()
    return Coordination(
        queue=queue,
        health=RedisHealthStore(client),
        rate_limiter=RedisRateLimiter(
            client,
            capacity=settings.rate_limit_burst,
            per_second=settings.rate_limit_per_second,
            lean=lean,
        ),
        locks=RedisLocks(client, lean=lean),
        publisher=RedisEventPublisher(client),
        redis=client,
    )


async def _open_provider_clients(settings: Settings, stack: AsyncExitStack) -> HttpClients:
    """One client per provider on the HTTP/1.1 engine (small pools, a cheaper
    pooled-connection lookup), or plain httpx clients with ENGINE_PROVIDER_HTTP=httpx.

    httpx applies proxies from the environment only to its own default transport, so a
    deployment behind an HTTPS proxy (HTTPS_PROXY / ALL_PROXY set) gets one plain shared
    client that honours them.
    """
    from synccash.adapters.providers import provider_http_client  # noqa: PLC0415

    timeout = httpx.Timeout(settings.provider_timeout_seconds, connect=5.0)
    if settings.provider_proxy:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        return await stack.enter_async_context(httpx.AsyncClient(timeout=timeout, limits=limits))
    if settings.engine_provider_http == "httpx":
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        return {
            provider: await stack.enter_async_context(
                httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
            )
            for provider in ProviderId
        }
    return {
        provider: await stack.enter_async_context(
            provider_http_client(timeout, concurrency=16, trust_env=True)
        )
        for provider in ProviderId
    }


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
