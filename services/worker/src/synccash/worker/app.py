"""The worker program: consumers, outbox relay and scheduler in one anyio task group.

`serve()` is what `synccash worker --concurrency N` runs: `bootstrap()` (over the provider
clients the CLI passes in, e.g. its in-process sandboxes), then `run()` until SIGTERM/SIGINT.
The first signal stops reading new tasks and lets in-flight ones finish (up to the shutdown
timeout); a second one exits at once.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
from typing import Protocol, runtime_checkable

import anyio
import structlog

from synccash.adapters.bootstrap import Container, bootstrap
from synccash.adapters.logs import configure_structlog
from synccash.adapters.providers.gateway import HttpClients
from synccash.adapters.redis.components import REPORT_EVERY_S, publish_components
from synccash.adapters.settings import Settings
from synccash.adapters.webhooks import AuditTrailEvents, WebhookDispatcher
from synccash.worker.consumer import run_worker
from synccash.worker.metrics import WorkerMetrics, default_metrics
from synccash.worker.relay import OutboxRelay
from synccash.worker.scheduler import Scheduler

_log = structlog.get_logger(__name__)


@runtime_checkable
class BufferedHealthStore(Protocol):
    """A health store that keeps samples in process until flushed (`RedisHealthStore`)."""

    @property
    def flush_interval_s(self) -> float:
        """How long a sample may wait before it is written."""
        ...

    async def flush(self) -> None:
        """Write the waiting samples now."""
        ...


async def flush_health_periodically(health: BufferedHealthStore, stop: anyio.Event) -> None:
    """Flush the waiting health samples every interval until `stop` (others see them then)."""
    while not stop.is_set():
        with anyio.move_on_after(health.flush_interval_s):
            await stop.wait()
        await flush_health(health)


async def flush_health(health: BufferedHealthStore) -> None:
    """Flush once; a failure is logged, not raised (health is advisory)."""
    try:
        await health.flush()
    except Exception:
        _log.warning("health_flush_failed", exc_info=True)


def default_consumer_name() -> str:
    """A consumer name unique per process: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def run(
    container: Container,
    *,
    stop: anyio.Event,
    concurrency: int = 8,
    consumer_name: str | None = None,
    metrics: WorkerMetrics | None = None,
    shutdown_timeout_s: float = 30.0,
    scheduler_interval_s: float = 1.0,
    relay_idle_s: float = 0.2,
    block_ms: int = 1000,
) -> None:
    """Run consumers, the outbox relay and the scheduler until `stop` is set."""
    m = metrics or default_metrics()
    dispatcher = WebhookDispatcher(
        container.webhook_http,
        container.webhook_deliveries,
        AuditTrailEvents(container.uow),
        secret=container.settings.webhook_secret,
        clock=container.clock,
        guard=container.url_guard,
        resolve_first=bool(container.settings.webhook_proxy_url),
        endpoints=container.webhook_endpoints,
    )
    relay = OutboxRelay(
        container.outbox,
        uow=container.uow,
        clock=container.clock,
        publisher=container.publisher,
        webhooks=dispatcher,
        metrics=m,
        failures=container.failures,
    )
    scheduler = Scheduler(
        container.lifecycle,
        container.locks,
        queue=container.queue,
        webhooks=dispatcher,
        metrics=m,
        failures=container.failures,
    )
    m.watch(container.failures)
    name = consumer_name or default_consumer_name()
    _log.info("worker_started", consumer=name, concurrency=concurrency)
    health = container.health
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: relay.run(stop, idle_s=relay_idle_s))
        tg.start_soon(lambda: scheduler.run(stop, interval_s=scheduler_interval_s))
        if container.redis is not None:
            tg.start_soon(report_components, container, name, stop)
        if isinstance(health, BufferedHealthStore):
            tg.start_soon(flush_health_periodically, health, stop)
        await run_worker(
            container,
            concurrency=concurrency,
            consumer_name=name,
            stop=stop,
            metrics=m,
            block_ms=block_ms,
            shutdown_timeout_s=shutdown_timeout_s,
            failures=container.failures,
        )
    if isinstance(health, BufferedHealthStore):
        with anyio.move_on_after(2.0):
            await flush_health(health)  # the samples of the last tasks
    _log.info("worker_stopped", consumer=name)


async def report_components(container: Container, process: str, stop: anyio.Event) -> None:
    """Share this worker's failing-component flags through Redis every few seconds, so the
    API's detailed health check shows them (a failure to write is only logged quietly)."""
    redis = container.redis
    if redis is None:
        return
    while not stop.is_set():
        try:
            await publish_components(redis, process, container.failures.statuses())
        except Exception as exc:
            container.failures.failed("component_report", exc)
        with anyio.move_on_after(REPORT_EVERY_S):
            await stop.wait()


async def _stop_on_signals(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if stop.is_set():
                _log.warning("second_signal_exiting_now", signal=signum)
                scope.cancel()
                return
            _log.info("shutdown_requested", signal=signum)
            stop.set()


def configure_logging(level: str, log_format: str) -> None:
    """structlog to stdout: masked JSON lines in production, readable in a console."""
    configure_structlog(level, log_format)


async def serve(
    concurrency: int = 8,
    *,
    settings: Settings | None = None,
    metrics_port: int | None = None,
    provider_clients: HttpClients | None = None,
) -> None:
    """Bootstrap from settings (over `provider_clients`, if given) and run until a signal."""
    settings = settings or Settings.from_env()
    settings.require_safe_secrets()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        _log.warning(
            "worker_without_redis",
            hint="REDIS_URL is empty: this worker only sees tasks of its own process "
            "(use `synccash serve` for the embedded mode)",
        )
    if metrics_port is not None:
        from prometheus_client import start_http_server  # noqa: PLC0415

        start_http_server(metrics_port)
    stop = anyio.Event()
    async with (
        bootstrap(
            settings,
            provider_clients=provider_clients,
            observe_provider_call=default_metrics().observe_provider_call,
        ) as container,
        anyio.create_task_group() as tg,
    ):
        # As the API does: what bootstrap allocated lives as long as the process, so keep it
        # out of the collector's passes (perf: gc was ~5% of a busy worker's CPU).
        gc.collect()
        gc.freeze()
        tg.start_soon(_stop_on_signals, stop, tg.cancel_scope)
        await run(container, stop=stop, concurrency=concurrency)
        tg.cancel_scope.cancel()


__all__ = [
    "BufferedHealthStore",
    "configure_logging",
    "default_consumer_name",
    "flush_health",
    "flush_health_periodically",
    "run",
    "serve",
]
