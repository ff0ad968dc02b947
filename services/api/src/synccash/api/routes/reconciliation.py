"""Reconciliation runs and exceptions for operators (scope `ops`, every merchant).

Runs are made by `synccash reconcile` (the statement import and matching); these routes read
them and close exceptions with a note, recorded with who closed it and when (write-once).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import QueryParameter
from msgspec import Meta

from synccash.adapters.sql import ItemAlreadyResolved, SqlReconciliation
from synccash.api.auth import Scope
from synccash.api.guards import api_context, current_principal, merchant_route
from synccash.api.problems import RequestProblem
from synccash.api.routes._common import BEARER, errors
from synccash.core.reconcile import MatchClass

_ROUTE = merchant_route(Scope.OPS)
_PROVIDERS = ("mtn", "airteltigo", "telecel")
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
ProviderQ = Annotated[
    str | None, QueryParameter(description="mtn, airteltigo or telecel", max_length=16)
]
DayQ = Annotated[str | None, QueryParameter(description="statement day YYYY-MM-DD", max_length=10)]


class RunOut(msgspec.Struct, kw_only=True):
    """One reconciliation run: a provider's statement day."""

    id: str
    provider: str
    date: str
    lines: int
    attempts: int
    exceptions: int
    counts: dict[str, int]
    runs: int


class RunList(msgspec.Struct, kw_only=True):
    """GET /api/v1/reconciliation/runs: newest day first."""

    items: list[RunOut]


class ExceptionOut(msgspec.Struct, kw_only=True):
    """A line or attempt that did not reconcile, with both sides' figures (pesewas)."""

    run_id: str
    key: str
    provider: str
    statement_date: str
    match_class: str
    provider_txn_id: str | None
    reference: str | None
    payment_id: str | None
    line_status: str | None
    our_status: str | None
    line_amount_minor: int | None
    our_amount_minor: int | None
    line_charges_minor: int | None
    our_charges_minor: int | None
    detail: str
    resolved_at: str | None
    resolved_by: str | None
    resolution_note: str | None


class ExceptionList(msgspec.Struct, kw_only=True):
    """GET /api/v1/reconciliation/exceptions."""

    items: list[ExceptionOut]


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/reconciliation/exceptions/resolve."""

    run_id: Annotated[str, Meta(min_length=1, max_length=40)]
    key: Annotated[str, Meta(min_length=1, max_length=200)]
    note: Annotated[str, Meta(min_length=1, max_length=500)]


def _store(request: Request[Any, Any, Any]) -> SqlReconciliation:
    store: SqlReconciliation | None = getattr(
        api_context(request).container, "reconciliation", None
    )
    if store is None:
        raise RequestProblem(503, "reconciliation_unavailable", "reconciliation needs SQL storage")
    return store


def _provider(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in _PROVIDERS:
        raise RequestProblem(
            400, "invalid_provider", f"provider must be one of {', '.join(_PROVIDERS)}"
        )
    return value


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RequestProblem(400, "invalid_date", "date must be YYYY-MM-DD") from None


def _exception(item: dict[str, Any]) -> ExceptionOut:
    return msgspec.convert(item, ExceptionOut)


@get(
    "/reconciliation/runs",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(503),
    operation_id="listReconciliationRuns",
    summary="Reconciliation runs (one per provider and statement day), newest day first",
    tags=["reconciliation"],
)
async def list_runs(
    *,
    request: Request[Any, Any, Any],
    provider: ProviderQ = None,
    day: Annotated[
        str | None,
        QueryParameter(query="date", description="statement day YYYY-MM-DD", max_length=10),
    ] = None,
    limit: Limit = 100,
) -> RunList:
    """GET /api/v1/reconciliation/runs."""
    found = await _store(request).runs(_provider(provider), _day(day), limit)
    return RunList(items=[msgspec.convert(r.to_json(), RunOut) for r in found])


@get(
    "/reconciliation/exceptions",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(503),
    operation_id="listReconciliationExceptions",
    summary="Lines and attempts that did not reconcile (open ones unless resolved=true)",
    tags=["reconciliation"],
)
async def list_exceptions(
    *,
    request: Request[Any, Any, Any],
    provider: ProviderQ = None,
    day: Annotated[
        str | None,
        QueryParameter(query="date", description="statement day YYYY-MM-DD", max_length=10),
    ] = None,
    match_class: Annotated[
        str | None,
        QueryParameter(query="class", description="one class, e.g. missing_at_us", max_length=24),
    ] = None,
    resolved: Annotated[bool, QueryParameter(description="include resolved ones")] = False,
    limit: Limit = 100,
) -> ExceptionList:
    """GET /api/v1/reconciliation/exceptions."""
    if match_class is not None and match_class not in {c.value for c in MatchClass}:
        raise RequestProblem(400, "invalid_class", "class must be a reconciliation class")
    found = await _store(request).exceptions(
        provider=_provider(provider),
        day=_day(day),
        match_class=match_class,
        include_resolved=resolved,
        limit=limit,
    )
    return ExceptionList(items=[_exception(i) for i in found])


@post(
    "/reconciliation/exceptions/resolve",
    status_code=200,
    opt=_ROUTE,
    security=BEARER,
    responses=errors(404, 409, 503),
    operation_id="resolveReconciliationException",
    summary="Close an exception with a note (who and when are recorded; write-once)",
    tags=["reconciliation"],
)
async def resolve_exception(request: Request[Any, Any, Any], data: ResolveIn) -> ExceptionOut:
    """POST /api/v1/reconciliation/exceptions/resolve."""
    now: datetime = api_context(request).container.clock.now()
    try:
        done = await _store(request).resolve(
            data.run_id,
            data.key,
            actor=current_principal(request).merchant_id,
            note=data.note.strip(),
            now=now,
        )
    except ItemAlreadyResolved:
        raise RequestProblem(
            409, "exception_already_resolved", "this exception was already resolved"
        ) from None
    if done is None:
        raise RequestProblem(404, "exception_not_found", "no such exception in that run")
    return _exception(done)


ROUTES = [list_runs, list_exceptions, resolve_exception]
