"""Prometheus metrics of the worker (names prefixed `synccash_worker_`)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from synccash.adapters.failures import FailureLog

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class WorkerMetrics:
    """Counters, histograms and gauges the worker updates."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        self.tasks_processed = Counter(
            "synccash_worker_tasks_processed_total",
            "Tasks handled and acknowledged",
            ["kind"],
            registry=reg,
        )
        self.tasks_failed = Counter(
            "synccash_worker_tasks_failed_total",
            "Tasks whose handler raised (left unacknowledged for redelivery)",
            ["kind"],
            registry=reg,
        )
        self.task_seconds = Histogram(
            "synccash_worker_task_seconds", "Handler duration", ["kind"], registry=reg
        )
        self.queue_lag = Histogram(
            "synccash_worker_queue_lag_seconds",
            "Time from a task becoming due to a worker taking it",
            buckets=_LAG_BUCKETS,
            registry=reg,
        )
        self.dead_letters = Counter(
            "synccash_worker_dead_letters_total",
            "Tasks moved to the dead letters after too many deliveries",
            ["kind"],
            registry=reg,
        )
        self.queue_depth = Gauge(
            "synccash_worker_queue_depth",
            "Tasks in the queue by state (ready, in_flight, delayed, dead)",
            ["state"],
            registry=reg,
        )
        self.in_flight = Gauge(
            "synccash_worker_in_flight", "Tasks being handled by this process", registry=reg
        )
        self.outbox_published = Counter(
            "synccash_worker_outbox_published_total",
            "Outbox events published to the event stream",
            registry=reg,
        )
        self.webhook_attempts = Counter(
            "synccash_worker_webhook_attempts_total",
            "Webhook delivery attempts by result (delivered, failed)",
            ["result"],
            registry=reg,
        )
        self.sweep_requeued = Counter(
            "synccash_worker_sweep_requeued_total",
            "Overdue payments re-enqueued by the scheduler's sweep",
            registry=reg,
        )
        self.is_leader = Gauge(
            "synccash_worker_scheduler_leader",
            "1 while this process holds the scheduler leader lock",
            registry=reg,
        )
        self.attempt_outcomes = Counter(
            "synccash_worker_attempt_outcomes_total",
            "Provider answers on attempts, by provider and resulting attempt status "
            "(counted from the relayed audit events)",
            ["provider", "status"],
            registry=reg,
        )
        self.component_failing = Gauge(
            "synccash_worker_component_failing",
            "1 while a component (outbox_relay, scheduler, queue_consume, task_handler, "
            "group_commit, group_read) keeps failing, else 0",
            ["component"],
            registry=reg,
        )
        self.loop_errors = Counter(
            "synccash_worker_loop_errors_total",
            "Errors caught by a worker loop (relay, scheduler, consumer)",
            ["loop"],
            registry=reg,
        )

    def watch(self, failures: FailureLog) -> None:
        """Keep `component_failing` in step with `failures`."""
        failures.on_change(self._set_failing)

    def _set_failing(self, component: str, failing: bool) -> None:
        self.component_failing.labels(component).set(1 if failing else 0)


_default: WorkerMetrics | None = None


def default_metrics() -> WorkerMetrics:
    """The process-wide metrics on the default registry (created once)."""
    global _default
    if _default is None:
        _default = WorkerMetrics()
    return _default


__all__ = ["WorkerMetrics", "default_metrics"]
