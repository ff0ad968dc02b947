"""Request logs (one JSON line per request, MSISDNs masked, no secrets) and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from synccash.adapters.logs import configure_structlog, mask, mask_value
from synccash.api.idempotency import ADMITTED_LOCK, AdmittedLock

ACCESS_LOGGER: Final = "synccash.api.access"
CALLBACK_PREFIX: Final = "/api/v1/callbacks/"

_REQUEST_ID_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


_encode_log: Final = msgspec.json.Encoder(enc_hook=str).encode


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; structured `fields` are merged in, every string masked."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as masked JSON."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            payload.update(fields)
        else:
            payload["event"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            payload["error"] = record.exc_info[0].__name__
        masked = mask_value(payload)
        try:
            # msgspec: a few us instead of ~15 us of json.dumps for an access line
            return _encode_log(masked).decode()
        except (TypeError, ValueError, OverflowError):  # e.g. keys msgspec will not write
            return json.dumps(masked, default=str, separators=(",", ":"))


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Send the API's logs to stderr as JSON lines (or plain text with log_format='console')."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    for name in ("synccash.api", ACCESS_LOGGER):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # The adapters this process runs log through structlog (failure episodes, webhooks...):
    # the same format and the same masking, never a console traceback with local variables.
    configure_structlog(level, log_format)


_CIRCUIT_LEVELS: Final = {"closed": 0, "half_open": 1, "open": 2}


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self, multiprocess_dir: str = "") -> None:
        """Create the collectors; with `multiprocess_dir`, /metrics merges every process's."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = multiprocess_dir
        self.requests = Counter(
            "synccash_api_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "synccash_api_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.payments_initiated = Counter(
            "synccash_payments_initiated_total",
            "Payments created through the API (replays excluded)",
            ["currency"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "synccash_api_idempotent_replays_total",
            "Requests answered from an earlier request with the same Idempotency-Key",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "synccash_api_rate_limited_total",
            "Requests refused with 429",
            registry=self.registry,
        )
        self.callbacks = Counter(
            "synccash_callbacks_total",
            "Provider callbacks by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "synccash_queue_depth",
            "Tasks in the queue by kind of depth (read at scrape time)",
            ["depth"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.reconciliation_open = Gauge(
            "synccash_reconciliation_open_exceptions",
            "Reconciliation exceptions not resolved yet, per kind (read at scrape time)",
            ["kind"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.circuit_state = Gauge(
            "synccash_provider_circuit_state",
            "Circuit breaker per provider as routing sees it: 0 closed, 1 half-open, 2 open "
            "(read at scrape time)",
            ["provider"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.provider_success_rate = Gauge(
            "synccash_provider_success_rate",
            "Success rate per provider in the health window (read at scrape time)",
            ["provider"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._initiated: dict[str, Counter] = {}

    def initiated(self, currency: str) -> None:
        """Count one payment created through the API (label child cached per currency)."""
        child = self._initiated.get(currency)
        if child is None:
            child = self._initiated[currency] = self.payments_initiated.labels(currency)
        child.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and observe its latency (label children cached: no lock per call)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def set_providers(self, providers: Mapping[str, Mapping[str, Any]]) -> None:
        """Circuit state and success rate per provider, from the health snapshot."""
        for name, info in providers.items():
            circuit = info.get("circuit")
            if circuit in _CIRCUIT_LEVELS:
                self.circuit_state.labels(name).set(_CIRCUIT_LEVELS[circuit])
            rate = info.get("success_rate")
            if isinstance(rate, int | float):
                self.provider_success_rate.labels(name).set(rate)

    def render(self) -> bytes:
        """The text exposition format (every process's metrics in multiprocess mode)."""
        if not self._multiprocess_dir:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def _problem_413(request_id: str, path: str, limit: int) -> bytes:
    return json.dumps(
        {
            "type": "https://docs.synccash.example/problems/body_too_large",
            "title": "Content Too Large",
            "status": 413,
            "code": "body_too_large",
            "detail": f"the request body must be at most {limit} bytes",
            "instance": path,
            "request_id": request_id,
        },
        separators=(",", ":"),
    ).encode()


class AccessLog:
    """ASGI wrapper around the whole app (so 404s count too): request id, body limit, log, metrics."""

    def __init__(
        self, app: ASGIApp, metrics: ApiMetrics, logger: logging.Logger, max_body_bytes: int
    ) -> None:
        """Wrap `app`."""
        self._app = app
        self._metrics = metrics
        self._log = logger
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one connection."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if self._too_large(scope, headers):
                body = _problem_413(request_id, scope["path"], self._max_body)
                start: HTTPResponseStartEvent = {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
                end: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": body,
                    "more_body": False,
                }
                await send_with_id(start)
                await send_with_id(end)
                return
            await self._app(scope, receive, send_with_id)
        finally:
            self._record(scope, state, status, time.perf_counter() - started)
            admitted: AdmittedLock | None = state.get(ADMITTED_LOCK)
            if admitted is not None:
                await self._release(admitted)

    async def _release(self, admitted: AdmittedLock) -> None:
        # A lock admission took for a request that failed before its handler (e.g. a 422
        # body): free the key now. The answer is already sent, so a Redis error is only
        # logged; the lock's TTL frees the key then.
        try:
            await admitted.release_unclaimed()
        except Exception:
            self._log.warning("could not release an idempotency lock", exc_info=True)

    def _too_large(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        # Callbacks are always answered 200; their body limit is enforced while reading it.
        if scope["path"].startswith(CALLBACK_PREFIX):
            return False
        raw = headers.get(b"content-length")
        if raw is None:
            return False
        try:
            return int(raw) > self._max_body
        except ValueError:
            return False

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = str(scope.get("path_template") or "unmatched")
        method = str(scope.get("method", "GET"))
        self._metrics.observe_request(method, route, status, seconds)
        log = self._log
        if not log.isEnabledFor(logging.INFO):
            return
        fields = {
            "event": "request",
            "request_id": state.get("request_id"),
            "merchant": state.get("merchant_id"),
            "method": method,
            "route": route,
            "path": mask(scope["path"]),
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        # makeRecord + handle is what Logger.info does minus the stack walk that finds the
        # caller's file and line (the same for every access line): a few us per request.
        record = log.makeRecord(
            log.name, logging.INFO, __file__, 0, "request", (), None, "_record", {"fields": fields}
        )
        log.handle(record)


__all__ = [
    "ACCESS_LOGGER",
    "AccessLog",
    "ApiMetrics",
    "JsonLogFormatter",
    "configure_logging",
    "mask",
    "mask_value",
]
