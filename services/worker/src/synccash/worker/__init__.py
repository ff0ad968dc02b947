"""SyncCash worker: queue consumers, outbox relay, webhooks and scheduler."""

from synccash.worker.app import run, serve
from synccash.worker.consumer import run_worker
from synccash.worker.metrics import WorkerMetrics
from synccash.worker.relay import OutboxRelay
from synccash.worker.scheduler import Scheduler

__all__ = ["OutboxRelay", "Scheduler", "WorkerMetrics", "run", "run_worker", "serve"]
