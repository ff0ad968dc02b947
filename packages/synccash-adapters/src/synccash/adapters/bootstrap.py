"""The one composition root: settings in, wired adapters and use-cases out.

`bootstrap(settings)` opens what production needs (engine, Redis, HTTP clients)
and closes it on exit; `memory_container()` wires every port in memory for tests.
Routes, task handlers and CLI commands get everything from a `Container`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any, Final

import httpx
from attrs import define, field

from synccash.adapters.clock import SystemClock, UuidIds
from synccash.adapters.coordination import ConsumableTaskQueue, Locks, RateLimiter
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
from synccash.adapters.settings import Settings
from synccash.adapters.urlguard import UrlGuard, merchant_http_client
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
from synccash.core.service import LifecycleService, PaymentPolicy, PaymentService


class _NullPublisher:
    """Embedded mode without Redis: events stay in the outbox table (webhooks still go out)."""

    async def publish(self, event_id: str, payment_id: str, type_: str, data: Any) -> None:
        """Nothing to publish to."""


@define
class Container:
    """Everything an entry point needs, built once."""

    settings: Settings
    clock: Clock
    ids: IdGenerator
    uow: UnitOfWorkFactory
    payments: PaymentService
    lifecycle: LifecycleService
    queue: ConsumableTaskQueue
    health: ProviderHealthStore
    gateway: ProviderGateway
    risk: RiskContext
    rate_limiter: RateLimiter
    locks: Locks
    outbox: Outbox
    publisher: EventPublisher
    ledger: Ledger | None = None  # the books (balances, statements, top-ups)
    engine: Any = None  # AsyncEngine when SQL is used
    redis: Any = None  # redis.asyncio.Redis when configured
    webhook_http: httpx.AsyncClient | None = None
    sandbox: Any = None  # the in-process sandboxes (CombinedApp) in embedded mode
    extras: dict[str, Any] = field(factory=dict)
    _database_check: Callable[[], Awaitable[None]] | None = None

    async def check_database(self) -> float:
        """Round-trip to the database; latency in ms. Raises if unreachable."""
        started = time.perf_counter()
        if self._database_check is not None:
            await self._database_check()
        return (time.perf_counter() - started) * 1000

    async def check_redis(self) -> float | None:
        """PING Redis; latency in ms, None when no Redis is configured."""
        if self.redis is None:
            return None
        started = time.perf_counter()
        await self.redis.ping()
        return (time.perf_counter() - started) * 1000

    async def check_providers(self) -> dict[str, dict[str, Any]]:
        """Per provider: circuit state and success rate as routing sees them."""
        snapshot = await self.health.snapshot(self.clock.now())
        result: dict[str, dict[str, Any]] = {}
        for provider in ProviderId:
            health = snapshot.get(provider)
            if health is None:
                result[provider.value] = {"status": "unknown"}
                continue
            status = "ok" if health.circuit.value == "closed" else "degraded"
            if health.circuit.value == "open":
                status = "down"
            result[provider.value] = {
                "status": status,
                "circuit": health.circuit.value,
                "success_rate": round(health.success_rate, 4),
                "samples": health.samples,
                "p50_latency_ms": health.p50_latency_ms,
                "p95_latency_ms": health.p95_latency_ms,
            }
        return result


def payment_policy(settings: Settings) -> PaymentPolicy:
    """The use-case policy from settings."""
    return PaymentPolicy(
        min_amount=settings.min_amount,
        max_amount=settings.max_amount,
        timeout=timedelta(seconds=settings.transaction_timeout_seconds),
        callback_base_url=f"{settings.public_base_url}/api/v1/callbacks",
    )


def _services(
    settings: Settings,
    *,
    uow: UnitOfWorkFactory,
    queue: ConsumableTaskQueue,
    clock: Clock,
    ids: IdGenerator,
    health: ProviderHealthStore,
    gateway: ProviderGateway,
    risk: RiskContext,
    router: Router | None = None,
) -> tuple[PaymentService, LifecycleService]:
    policy = payment_policy(settings)
    router = router or Router()
    payments = PaymentService(
        uow=uow, queue=queue, clock=clock, ids=ids, health=health, router=router, policy=policy
    )
    lifecycle = LifecycleService(
        uow=uow,
        queue=queue,
        clock=clock,
        ids=ids,
        gateway=gateway,
        health=health,
        risk=risk,
        router=router,
        policy=policy,
    )
    return payments, lifecycle


def memory_container(
    settings: Settings | None = None,
    *,
    gateway: ProviderGateway | None = None,
    clock: Clock | None = None,
    router: Router | None = None,
) -> Container:
    """Every port in memory: for tests (and anything that must not touch I/O)."""
    settings = settings or Settings.from_env({})
    clock = clock or SystemClock()
    store = InMemoryStore()
    uow = InMemoryUnitOfWorkFactory(store)
    queue = MemoryTaskQueue(clock=clock)
    health = InMemoryHealthStore()
    risk = InMemoryRiskContext(store)
    gateway = gateway or FakeProviderGateway()
    ids = UuidIds()
    payments, lifecycle = _services(
        settings,
        uow=uow,
        queue=queue,
        clock=clock,
        ids=ids,
        health=health,
        gateway=gateway,
        risk=risk,
        router=router,
    )
    return Container(
        settings=settings,
        clock=clock,
        ids=ids,
        uow=uow,
        payments=payments,
        lifecycle=lifecycle,
        queue=queue,
        health=health,
        gateway=gateway,
        risk=risk,
        rate_limiter=MemoryRateLimiter(
            capacity=settings.rate_limit_burst,
            per_second=settings.rate_limit_per_second,
            clock=clock,
        ),
        locks=MemoryLocks(clock=clock),
        outbox=InMemoryOutbox(store),
        publisher=_NullPublisher(),
        ledger=InMemoryLedger(store.books),
        extras={"store": store},
    )


@asynccontextmanager
async def bootstrap(settings: Settings, *, migrate_sqlite: bool = True) -> AsyncIterator[Container]:
    """Open the production adapters from settings (SQL, Redis or memory, providers) and close them after."""
    from synccash.adapters import sql  # noqa: PLC0415  (keep memory-only imports light)
    from synccash.adapters.providers import build_gateway  # noqa: PLC0415

    clock = SystemClock()
    ids = UuidIds()
    async with AsyncExitStack() as stack:
        if settings.database_url.startswith("sqlite") and migrate_sqlite:
            _ensure_sqlite_dir(settings.database_url)
            await sql.migrate(settings.database_url)
        engine = sql.create_engine_from_settings(settings)
        stack.push_async_callback(engine.dispose)
        await sql.check_schema(engine)
        # PostgreSQL: concurrent initiates share a round trip and a commit (group commit)
        uow = sql.SqlUnitOfWorkFactory(engine, group_commit=True)
        stack.push_async_callback(uow.aclose)
        risk = sql.SqlRiskContext(engine, uow.reader)
        outbox = sql.SqlOutbox(engine)

        redis_client: Any = None
        queue: ConsumableTaskQueue
        health: ProviderHealthStore
        rate_limiter: RateLimiter
        locks: Locks
        publisher: EventPublisher
        if settings.redis_url:
            from redis.asyncio import Redis  # noqa: PLC0415

            from synccash.adapters.redis.events import RedisEventPublisher  # noqa: PLC0415
            from synccash.adapters.redis.health import RedisHealthStore  # noqa: PLC0415
            from synccash.adapters.redis.queue import RedisTaskQueue  # noqa: PLC0415
            from synccash.adapters.redis.ratelimit import (  # noqa: PLC0415
                RedisLocks,
                RedisRateLimiter,
            )

            redis_client = Redis.from_url(settings.redis_url, max_connections=256)
            stack.push_async_callback(redis_client.aclose)
            stack.callback(_close_lean_connection, redis_client)
            redis_queue = RedisTaskQueue(redis_client, clock=clock)
            await redis_queue.ensure_group()
            queue = redis_queue
            health = RedisHealthStore(redis_client)
            rate_limiter = RedisRateLimiter(
                redis_client,
                capacity=settings.rate_limit_burst,
                per_second=settings.rate_limit_per_second,
            )
            locks = RedisLocks(redis_client)
            publisher = RedisEventPublisher(redis_client)
        else:
            queue = MemoryTaskQueue(clock=clock)
            health = InMemoryHealthStore()
            rate_limiter = MemoryRateLimiter(
                capacity=settings.rate_limit_burst,
                per_second=settings.rate_limit_per_second,
                clock=clock,
            )
            locks = MemoryLocks(clock=clock)
            publisher = _NullPublisher()

        timeout = httpx.Timeout(settings.provider_timeout_seconds, connect=5.0)
        world: Any = None
        if settings.embedded_sandboxes:
            gateway, world = await _embedded_gateway(settings, stack, timeout)
        else:
            gateway = build_gateway(settings, await _provider_clients(stack, timeout))
        # merchant URLs: SSRF-guarded connects (every DNS answer checked), no redirects
        webhook_http = await stack.enter_async_context(
            merchant_http_client(
                UrlGuard.from_setting(settings.webhook_allowed_targets),
                proxy=settings.webhook_proxy_url,
            )
        )

        async def ping_database() -> None:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")

        payments, lifecycle = _services(
            settings,
            uow=uow,
            queue=queue,
            clock=clock,
            ids=ids,
            health=health,
            gateway=gateway,
            risk=risk,
        )
        yield Container(
            settings=settings,
            clock=clock,
            ids=ids,
            uow=uow,
            payments=payments,
            lifecycle=lifecycle,
            queue=queue,
            health=health,
            gateway=gateway,
            risk=risk,
            rate_limiter=rate_limiter,
            locks=locks,
            outbox=outbox,
            publisher=publisher,
            engine=engine,
            redis=redis_client,
            webhook_http=webhook_http,
            sandbox=world,
            database_check=ping_database,
        )


_PROXY_VARIABLES: Final = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


async def _provider_clients(
    stack: AsyncExitStack, http_timeout: httpx.Timeout
) -> httpx.AsyncClient | dict[ProviderId, httpx.AsyncClient]:
    """One lean client per provider (small pools, a cheaper pooled-connection lookup).

    httpx applies proxies from the environment only to its own default transport, so a
    deployment behind an HTTPS proxy (HTTPS_PROXY / ALL_PROXY set) gets one plain shared
    client that honours them.
    """
    from synccash.adapters.providers import provider_http_client  # noqa: PLC0415

    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        return await stack.enter_async_context(
            httpx.AsyncClient(timeout=http_timeout, limits=limits)
        )
    return {
        provider: await stack.enter_async_context(
            provider_http_client(http_timeout, concurrency=16, trust_env=True)
        )
        for provider in ProviderId
    }


async def _embedded_gateway(
    settings: Settings, stack: AsyncExitStack, http_timeout: httpx.Timeout
) -> tuple[ProviderGateway, Any]:
    """The three sandboxes in-process, reached through httpx's ASGI transport.

    The real client code runs unchanged; callbacks go to PUBLIC_BASE_URL over real
    HTTP. The sandboxes ship in synccash-tools (an optional runtime dependency of
    this package, imported only in embedded mode).
    """
    from synccash.adapters.providers import build_gateway  # noqa: PLC0415

    try:
        from synccash.sandbox import (  # noqa: PLC0415
            SERVE_APPROVAL_DELAY,
            SandboxWorld,
            create_combined_app,
        )
    except ImportError as exc:  # pragma: no cover - only without synccash-tools installed
        msg = (
            "SANDBOX_MODE=embedded needs the provider sandboxes from synccash-tools; "
            "install it or set SANDBOX_MODE=external with the providers' base URLs"
        )
        raise RuntimeError(msg) from exc

    callback_http = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(5.0)))
    world = SandboxWorld()
    # Payers take a moment to approve on their phones; callbacks then finish the payment.
    app = create_combined_app(world, http_client=callback_http, approval_delay=SERVE_APPROVAL_DELAY)
    await stack.enter_async_context(app.running())
    stack.push_async_callback(app.aclose)
    clients: dict[ProviderId, httpx.AsyncClient] = {}
    for provider in ProviderId:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://sandbox/{provider.value}",
            timeout=http_timeout,
        )
        clients[provider] = await stack.enter_async_context(client)
    return build_gateway(settings, clients), app


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path  # noqa: PLC0415

    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _close_lean_connection(redis_client: Any) -> None:
    """Close the pipelined connection the queue and rate limits use beside redis-py's pool."""
    from synccash.adapters.redis._lean import LeanRedis  # noqa: PLC0415 - Redis extra only

    lean = LeanRedis.for_client(redis_client)
    if lean is not None:
        lean.close()
