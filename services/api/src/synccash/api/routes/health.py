"""Health, readiness, liveness and Prometheus metrics. No token needed."""

from __future__ import annotations

import inspect
from typing import Any, Final

import anyio
from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST

from synccash.adapters.failures import ComponentStatus
from synccash.api.guards import api_context
from synccash.api.problems import problem_response, problem_responses
from synccash.api.schemas import CheckOut, DetailedHealthOut, HealthOut

CHECK_TIMEOUT_SECONDS: Final = 3.0
# Provider checks report a measured round trip, else the health window's median latency.
_LATENCY_KEYS: Final = ("latency_ms", "latency", "p50_latency_ms")


@get(["/api/v1/health", "/api/v1/health/live", "/health/live"], tags=["health"], summary="Liveness")
async def health_live() -> HealthOut:
    """Cheap and dependency-free: the process answers."""
    return HealthOut(status="ok")


@get(
    ["/api/v1/health/ready", "/health/ready"],
    tags=["health"],
    summary="Readiness: 503 when the database is unreachable",
    responses=problem_responses(503),
)
async def health_ready(request: Request[Any, Any, Any]) -> Response[Any]:
    """Ready to take traffic only while the database answers."""
    api = api_context(request)
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            await api.container.check_database()
    except Exception:
        return problem_response(
            request, 503, "database_unavailable", "the database is not reachable"
        )
    return Response(HealthOut(status="ok"))


async def _timed(check: Any) -> Any:
    with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
        result = check()
        return await result if inspect.isawaitable(result) else result


@get(
    ["/api/v1/health/detailed", "/health/detailed"],
    tags=["health"],
    summary="Database, Redis and each provider with latency and overall status",
    responses={
        503: ResponseSpec(
            data_container=DetailedHealthOut, description="The database is down (status: down)"
        )
    },
)
async def health_detailed(request: Request[Any, Any, Any]) -> Response[DetailedHealthOut]:
    """Every dependency; status is ok, degraded (Redis or a provider down) or down (database)."""
    api = api_context(request)
    container = api.container
    checks: dict[str, CheckOut] = {}
    try:
        checks["database"] = CheckOut(
            status="ok", latency_ms=round(await _timed(container.check_database), 2)
        )
    except Exception as exc:
        checks["database"] = CheckOut(status="down", error=type(exc).__name__)
    try:
        redis_ms = await _timed(container.check_redis)
        checks["redis"] = (
            CheckOut(status="not_configured")
            if redis_ms is None
            else CheckOut(status="ok", latency_ms=round(redis_ms, 2))
        )
    except Exception as exc:
        checks["redis"] = CheckOut(status="down", error=type(exc).__name__)
    try:
        providers = await _timed(container.check_providers)
        for name, info in dict(providers).items():
            checks[f"provider:{name}"] = _provider_check(info)
    except Exception as exc:
        checks["providers"] = CheckOut(status="down", error=type(exc).__name__)
    try:
        processes = await _timed(container.component_statuses)
        for process, components in dict(processes).items():
            for component in components:
                where = "" if process == "self" else f"{process}:"
                checks[f"component:{where}{component.component}"] = _component_check(component)
    except Exception as exc:
        checks["components"] = CheckOut(status="unknown", error=type(exc).__name__)
    if checks["database"].status != "ok":
        overall, code = "down", 503
    elif any(c.status not in ("ok", "not_configured") for c in checks.values()):
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    return Response(DetailedHealthOut(status=overall, checks=checks), status_code=code)


def _component_check(component: ComponentStatus) -> CheckOut:
    """A component of this process that failed (group commit/read, relay, scheduler)."""
    if not component.failing:
        return CheckOut(status="ok")
    return CheckOut(
        status="failing",
        error=component.last_error,
        detail={"failures": component.failures, "failing_for_s": component.failing_for_s},
    )


def _provider_check(info: Any) -> CheckOut:
    if not isinstance(info, dict):
        return CheckOut(status=str(info))
    latency = next((info[k] for k in _LATENCY_KEYS if isinstance(info.get(k), int | float)), None)
    rest = {k: v for k, v in info.items() if k not in ("status", "latency_ms", "latency")}
    return CheckOut(
        status=str(info.get("status", "unknown")),
        latency_ms=float(latency) if latency is not None else None,
        detail={
            k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
            for k, v in rest.items()
        }
        or None,
    )


@get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics",
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Requests, latencies, payments initiated, rate limiting, callbacks, queue depth."""
    api = api_context(request)
    stats = getattr(api.container, "queue", None)
    read = getattr(stats, "stats", None)
    if callable(read):
        try:
            with anyio.fail_after(1.0):
                depth = await read()
            for name in ("ready", "in_flight", "delayed", "dead"):
                api.metrics.queue_depth.labels(name).set(getattr(depth, name, 0))
        except Exception:  # noqa: S110 - a scrape must never fail because the queue is away
            pass
    try:
        with anyio.fail_after(1.0):
            api.metrics.set_providers(await api.container.check_providers())
    except Exception:  # noqa: S110 - nor because the health store is away
        pass
    recon = getattr(api.container, "reconciliation", None)
    if recon is not None:
        try:
            with anyio.fail_after(1.0):
                for kind, count in (await recon.open_counts()).items():
                    api.metrics.reconciliation_open.labels(kind).set(count)
        except Exception:  # noqa: S110 - nor because the database is away
            pass
    return Response(api.metrics.render(), media_type=CONTENT_TYPE_LATEST)


ROUTES = [health_live, health_ready, health_detailed, metrics]
