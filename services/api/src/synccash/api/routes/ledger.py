"""The books: a merchant's balance and statement; provider floats and top-ups for operators."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from synccash.api.auth import Scope
from synccash.api.guards import api_context, current_principal, merchant_route
from synccash.api.idempotency import HEADER, MAX_KEY_LENGTH
from synccash.api.problems import RequestProblem
from synccash.api.routes._common import BEARER, errors
from synccash.api.views import API_PREFIX
from synccash.core.ledger import (
    balance_of,
    merchant_accounts,
    provider_float,
    topup_entry,
)
from synccash.core.money import Money
from synccash.core.ports import EntryQuery, Ledger, StoredEntry
from synccash.core.providers import ProviderId

CSV_MEDIA_TYPE: Final = "text/csv"
_CSV_COLUMNS: Final = (
    "position",
    "at",
    "kind",
    "reference",
    "payment_id",
    "account",
    "amount",
    "currency",
)


class BalanceOut(msgspec.Struct, kw_only=True):
    """A merchant's balance: what it may pay out now, and what is held for payouts/refunds."""

    currency: str
    available: str
    reserved: str


class StatementLine(msgspec.Struct, kw_only=True):
    """One posting on one of the merchant's accounts (credits to the merchant positive)."""

    position: int
    at: datetime
    kind: str
    reference: str
    payment_id: str | None
    account: str
    amount: str
    currency: str


class StatementLinks(msgspec.Struct, kw_only=True):
    """Pagination links."""

    next: str | None = None


class StatementPage(msgspec.Struct, kw_only=True):
    """A page of the merchant's statement, oldest first."""

    items: list[StatementLine]
    next_cursor: str | None
    links: StatementLinks


class FloatOut(msgspec.Struct, kw_only=True):
    """SyncCash's disbursement float at one provider (free to send)."""

    provider: str
    currency: str
    balance: str


class FloatList(msgspec.Struct, kw_only=True):
    """Every provider's float."""

    items: list[FloatOut]


class TopUpRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An operator's float top-up: money SyncCash moved into its float at the provider."""

    amount: str
    currency: str = "GHS"


ProviderName = Annotated[
    str, PathParameter(description="mtn, airteltigo or telecel", max_length=32)
]
TopUpKey = Annotated[
    str,
    HeaderParameter(
        name=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"\S",
        description="Unique per top-up: the same key posts once.",
    ),
]


def _ledger(request: Request[Any, Any, Any]) -> Ledger:
    ledger = api_context(request).container.ledger
    if ledger is None:
        raise RequestProblem(503, "ledger_unavailable", "the books are not configured")
    return ledger


@get(
    "/balance",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(),
    summary="The merchant's balance: available (may be paid out) and reserved (held)",
    tags=["ledger"],
)
async def get_balance(request: Request[Any, Any, Any]) -> BalanceOut:
    """GET /api/v1/balance."""
    ledger = _ledger(request)
    available, reserved = merchant_accounts(current_principal(request).merchant_id)
    return BalanceOut(
        currency="GHS",
        available=(await ledger.balance(available)).to_decimal_string(),
        reserved=(await ledger.balance(reserved)).to_decimal_string(),
    )


def _lines(stored: StoredEntry, accounts: tuple[str, ...]) -> list[StatementLine]:
    return [
        StatementLine(
            position=stored.position,
            at=stored.at,
            kind=stored.entry.kind.value,
            reference=stored.entry.reference,
            payment_id=stored.entry.payment_id,
            account=p.account.rsplit(":", 1)[-1],
            amount=balance_of(p.account, p.amount.minor, p.amount.currency).to_decimal_string(),
            currency=p.amount.currency,
        )
        for p in stored.entry.postings
        if p.account in accounts
    ]


def _csv(lines: list[StatementLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.position,
                line.at.isoformat(),
                line.kind,
                line.reference,
                line.payment_id or "",
                line.account,
                line.amount,
                line.currency,
            ]
        )
    return out.getvalue()


@get(
    "/ledger/entries",
    opt=merchant_route(Scope.REPORTS_READ),
    security=BEARER,
    responses=errors(),
    summary="The merchant's statement: postings on its available and reserved balances",
    description="Oldest first, cursor pages. `Accept: text/csv` answers the page as a CSV "
    "statement (the next cursor in the `Link` header).",
    tags=["ledger"],
)
async def list_entries(
    *,
    request: Request[Any, Any, Any],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None,
        QueryParameter(description="next_cursor of the previous page", pattern=r"^[0-9]{1,18}$"),
    ] = None,
) -> Response[Any]:
    """GET /api/v1/ledger/entries."""
    accounts = merchant_accounts(current_principal(request).merchant_id)
    page = await _ledger(request).entries(EntryQuery(accounts=accounts, limit=limit, cursor=cursor))
    lines = [line for stored in page.items for line in _lines(stored, accounts)]
    next_link = None
    if page.next_cursor is not None:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = page.next_cursor
        next_link = f"{API_PREFIX}/ledger/entries?{urlencode(params)}"
    if CSV_MEDIA_TYPE in request.headers.get("accept", ""):
        headers = {"Link": f'<{next_link}>; rel="next"'} if next_link else {}
        return Response(_csv(lines), media_type=CSV_MEDIA_TYPE, headers=headers)
    body = StatementPage(
        items=lines, next_cursor=page.next_cursor, links=StatementLinks(next=next_link)
    )
    return Response(body)


@get(
    "/ledger/floats",
    opt=merchant_route(Scope.OPS),
    security=BEARER,
    responses=errors(),
    summary="Operators: SyncCash's disbursement float at each provider",
    tags=["ledger"],
)
async def list_floats(request: Request[Any, Any, Any]) -> FloatList:
    """GET /api/v1/ledger/floats."""
    ledger = _ledger(request)
    items = [
        FloatOut(
            provider=p.value,
            currency="GHS",
            balance=(await ledger.balance(provider_float(p))).to_decimal_string(),
        )
        for p in ProviderId
    ]
    return FloatList(items=items)


@post(
    "/ledger/floats/{provider:str}/topups",
    status_code=201,
    opt=merchant_route(Scope.OPS, idempotency_key=True),
    security=BEARER,
    responses=errors(422),
    summary="Operators: record a top-up of SyncCash's float at a provider",
    description="Posts float += amount against the provider's outside world; the same "
    "Idempotency-Key posts once.",
    tags=["ledger"],
)
async def top_up_float(
    *,
    request: Request[Any, Any, Any],
    provider: ProviderName,
    data: JSONBody[TopUpRequest],
    idempotency_key: TopUpKey,
) -> FloatOut:
    """POST /api/v1/ledger/floats/{provider}/topups."""
    ledger = _ledger(request)
    chosen = ProviderId.parse(provider)
    amount = Money.parse(data.amount, data.currency)
    entry = topup_entry(f"topup:{idempotency_key.strip()}", chosen, amount)
    await ledger.post([entry], api_context(request).container.clock.now())
    balance = await ledger.balance(provider_float(chosen), amount.currency)
    return FloatOut(
        provider=chosen.value, currency=amount.currency, balance=balance.to_decimal_string()
    )


ROUTES = [get_balance, list_entries, list_floats, top_up_float]
