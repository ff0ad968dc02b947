"""Prometheus metrics of the worker (names prefixed `synccash_worker_`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from synccash.adapters.failures import FailureLog

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
#: Payment amounts in GHS (cedis): from airtime top-ups to the KYC tier-3 daily limit.
_AMOUNT_BUCKETS = (1, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000)
_FINAL_STATES = frozenset({"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED"})


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

        self.provider_calls = Histogram(
            "synccash_provider_call_seconds",
            "Provider API calls by provider, operation (submit, status, lookup) and outcome",
            ["provider", "operation", "outcome"],
            buckets=_CALL_BUCKETS,
            registry=reg,
        )
        self.payments_finished = Counter(
            "synccash_payments_finished_total",
            "Payments reaching a final state, by kind, state and provider "
            "(counted from the relayed audit events)",
            ["kind", "state", "provider"],
            registry=reg,
        )
        self.payment_amounts = Histogram(
            "synccash_payment_amount_ghs",
            "Amounts of payments reaching a final state, in GHS, by kind and state",
            ["kind", "state"],
            buckets=_AMOUNT_BUCKETS,
            registry=reg,
        )
        self.failovers = Counter(
            "synccash_failovers_total",
            "Payments moved to the payer's next wallet after a definitive failure, by the "
            "provider that failed",
            ["provider"],
            registry=reg,
        )
        self.outbox_lag = Histogram(
            "synccash_worker_outbox_lag_seconds",
            "Time from an audit event being committed to the relay publishing it",
            buckets=_LAG_BUCKETS,
            registry=reg,
        )

    def observe_provider_call(
        self, provider: str, operation: str, outcome: str, seconds: float
    ) -> None:
        """One provider API call (the gateway's observer)."""
        self.provider_calls.labels(provider, operation, outcome).observe(seconds)

    def observe_event(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Count what one relayed audit event says: a final state, an amount, a failover."""
        data = payload.get("data")
        data = data if isinstance(data, Mapping) else {}
        state = str(payload.get("state") or "")
        kind = str(payload.get("kind") or "collection")
        provider = str(payload.get("provider") or data.get("provider") or "none")
        if event_type == f"payment.{state.lower()}" and state in _FINAL_STATES:
            self.payments_finished.labels(kind, state, provider).inc()
            amount = payload.get("amount")
            if isinstance(amount, str):
                # A metric's sample is a float by nature; amounts stay integer pesewas
                # everywhere money is computed.
                self.payment_amounts.labels(kind, state).observe(float(Decimal(amount)))
        reason = data.get("reason")
        if event_type == "payment.pending" and isinstance(reason, str):
            failed = data.get("failed_provider") or data.get("from_provider") or provider
            if reason.startswith("failover"):
                self.failovers.labels(str(failed)).inc()

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
