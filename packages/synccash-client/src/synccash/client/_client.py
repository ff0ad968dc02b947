"""`SyncCash` (blocking) and `AsyncSyncCash` (asyncio/anyio): the same methods, one wire module."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self

import anyio
import httpx

from synccash.client import _wire
from synccash.client._errors import ApiError, TransportError
from synccash.client._models import Page, Payment

DEFAULT_TIMEOUT_S: Final = 10.0
DEFAULT_RETRIES: Final = 2
FINAL_STATES: Final = frozenset({"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED"})


class _Calls:
    """The API's operations as `Call`s (shared by both clients)."""

    @staticmethod
    def initiate(
        amount: str | Decimal,
        payer: str,
        *,
        merchant_account: str | None,
        payee_msisdn: str | None,
        reference: str | None,
        description: str | None,
        metadata: Mapping[str, Any] | None,
        webhook_url: str | None,
        wallets: list[Mapping[str, str]] | None,
        currency: str,
        idempotency_key: str | None,
    ) -> _wire.Call:
        body = _wire.drop_none(
            {
                "amount": _wire.amount_text(amount),
                "currency": currency,
                "payer": _wire.drop_none({"msisdn": payer, "wallets": wallets}),
                "payee": _wire.payee(merchant_account, payee_msisdn),
                "reference": reference,
                "description": description,
                "metadata": dict(metadata) if metadata is not None else None,
                "webhook_url": webhook_url,
            }
        )
        return _wire.post(f"{_wire.API_PREFIX}/payments/initiate", body, idempotency_key)

    @staticmethod
    def list_payments(filters: Mapping[str, str | int | None]) -> _wire.Call:
        params = {k: str(v) for k, v in filters.items() if v is not None}
        return _wire.Call("GET", f"{_wire.API_PREFIX}/payments", params=params)


class SyncCash:
    """Blocking client. Give an API key (or a merchant JWT) as `api_key`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_RETRIES,
        backoff_base_s: float = 0.5,
        http: httpx.Client | None = None,
    ) -> None:
        self._credential = api_key
        self._retries = max_retries
        self._backoff = backoff_base_s
        self._http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, call: _wire.Call) -> Any:
        """Send one call, retrying transport errors and 429/502/503/504 with the same key."""
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    content=call.content(),
                    params=call.params,
                    headers=call.headers(self._credential),
                )
            except httpx.TransportError as exc:
                if last:
                    raise TransportError(str(exc) or type(exc).__name__) from exc
                time.sleep(_wire.backoff_s(attempt, self._backoff, None))
                continue
            try:
                return _wire.outcome(response.status_code, response.headers, response.content)
            except ApiError as error:
                if last or not _wire.should_retry(error):
                    raise
                hint = _wire.retry_after(response.headers)
                time.sleep(_wire.backoff_s(attempt, self._backoff, hint))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    # --- payments -----------------------------------------------------------------
    def initiate_payment(
        self,
        amount: str | Decimal,
        payer: str,
        *,
        merchant_account: str | None = None,
        payee_msisdn: str | None = None,
        reference: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        wallets: list[Mapping[str, str]] | None = None,
        currency: str = "GHS",
        idempotency_key: str | None = None,
    ) -> Payment:
        """Create a payment (202: stored and queued). Same key + same body replays it."""
        call = _Calls.initiate(
            amount,
            payer,
            merchant_account=merchant_account,
            payee_msisdn=payee_msisdn,
            reference=reference,
            description=description,
            metadata=metadata,
            webhook_url=webhook_url,
            wallets=wallets,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return Payment.from_json(self.request(call))

    def get_payment(self, payment_id: str) -> Payment:
        """The full payment resource (attempts, audit trail in `raw`)."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}"
        return Payment.from_json(self.request(_wire.Call("GET", path)))

    def payment_status(self, payment_id: str) -> Payment:
        """The payment's state, provider and attempts (cheaper than `get_payment`)."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/status"
        return Payment.from_json(self.request(_wire.Call("GET", path)))

    def cancel_payment(self, payment_id: str) -> Payment:
        """Cancel while nothing is at a provider (else ConflictError `payment_not_cancellable`)."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/cancel"
        return Payment.from_json(self.request(_wire.post(path, None, None)))

    def refund_payment(
        self,
        payment_id: str,
        amount: str | Decimal | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Refund a CONFIRMED payment in full (no amount) or in part."""
        body = {} if amount is None else {"amount": _wire.amount_text(amount)}
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/refund"
        return Payment.from_json(self.request(_wire.post(path, body, idempotency_key)))

    def list_payments(
        self,
        *,
        state: str | None = None,
        provider: str | None = None,
        reference: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """One page, newest first."""
        filters = {
            "state": state,
            "provider": provider,
            "reference": reference,
            "limit": limit,
            "cursor": cursor,
        }
        document = self.request(_Calls.list_payments(filters))
        return Page([Payment.from_json(p) for p in document["items"]], document["next_cursor"])

    def iter_payments(self, **filters: Any) -> Iterator[Payment]:
        """Every payment matching the filters, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_payments(**filters, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def wait_for_final(
        self, payment_id: str, *, timeout_s: float = 120.0, interval_s: float = 1.0
    ) -> Payment:
        """Poll the status until the payment is final or `timeout_s` passes (returns the last)."""
        deadline = time.monotonic() + timeout_s
        while True:
            payment = self.payment_status(payment_id)
            if payment.state in FINAL_STATES or time.monotonic() >= deadline:
                return payment
            time.sleep(interval_s)

    def quote_route(self, body: Mapping[str, Any]) -> Any:
        """POST /routing/quote with the request body as documented (the explanation as JSON)."""
        return self.request(_wire.Call("POST", f"{_wire.API_PREFIX}/routing/quote", body))


class AsyncSyncCash:
    """Async client (asyncio or trio through anyio); the same methods as `SyncCash`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_RETRIES,
        backoff_base_s: float = 0.5,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._credential = api_key
        self._retries = max_retries
        self._backoff = backoff_base_s
        self._http = http or httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def request(self, call: _wire.Call) -> Any:
        """Send one call, retrying transport errors and 429/502/503/504 with the same key."""
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    content=call.content(),
                    params=call.params,
                    headers=call.headers(self._credential),
                )
            except httpx.TransportError as exc:
                if last:
                    raise TransportError(str(exc) or type(exc).__name__) from exc
                await anyio.sleep(_wire.backoff_s(attempt, self._backoff, None))
                continue
            try:
                return _wire.outcome(response.status_code, response.headers, response.content)
            except ApiError as error:
                if last or not _wire.should_retry(error):
                    raise
                hint = _wire.retry_after(response.headers)
                await anyio.sleep(_wire.backoff_s(attempt, self._backoff, hint))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def initiate_payment(
        self,
        amount: str | Decimal,
        payer: str,
        *,
        merchant_account: str | None = None,
        payee_msisdn: str | None = None,
        reference: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        wallets: list[Mapping[str, str]] | None = None,
        currency: str = "GHS",
        idempotency_key: str | None = None,
    ) -> Payment:
        """Create a payment (202: stored and queued). Same key + same body replays it."""
        call = _Calls.initiate(
            amount,
            payer,
            merchant_account=merchant_account,
            payee_msisdn=payee_msisdn,
            reference=reference,
            description=description,
            metadata=metadata,
            webhook_url=webhook_url,
            wallets=wallets,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return Payment.from_json(await self.request(call))

    async def get_payment(self, payment_id: str) -> Payment:
        """The full payment resource (attempts, audit trail in `raw`)."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}"
        return Payment.from_json(await self.request(_wire.Call("GET", path)))

    async def payment_status(self, payment_id: str) -> Payment:
        """The payment's state, provider and attempts."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/status"
        return Payment.from_json(await self.request(_wire.Call("GET", path)))

    async def cancel_payment(self, payment_id: str) -> Payment:
        """Cancel while nothing is at a provider."""
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/cancel"
        return Payment.from_json(await self.request(_wire.post(path, None, None)))

    async def refund_payment(
        self,
        payment_id: str,
        amount: str | Decimal | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Refund a CONFIRMED payment in full (no amount) or in part."""
        body = {} if amount is None else {"amount": _wire.amount_text(amount)}
        path = f"{_wire.API_PREFIX}/payments/{payment_id}/refund"
        return Payment.from_json(await self.request(_wire.post(path, body, idempotency_key)))

    async def list_payments(
        self,
        *,
        state: str | None = None,
        provider: str | None = None,
        reference: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """One page, newest first."""
        filters = {
            "state": state,
            "provider": provider,
            "reference": reference,
            "limit": limit,
            "cursor": cursor,
        }
        document = await self.request(_Calls.list_payments(filters))
        return Page([Payment.from_json(p) for p in document["items"]], document["next_cursor"])

    async def iter_payments(self, **filters: Any) -> AsyncIterator[Payment]:
        """Every payment matching the filters, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_payments(**filters, cursor=cursor)
            for payment in page.items:
                yield payment
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def wait_for_final(
        self, payment_id: str, *, timeout_s: float = 120.0, interval_s: float = 1.0
    ) -> Payment:
        """Poll the status until the payment is final or `timeout_s` passes (returns the last)."""
        deadline = time.monotonic() + timeout_s
        while True:
            payment = await self.payment_status(payment_id)
            if payment.state in FINAL_STATES or time.monotonic() >= deadline:
                return payment
            await anyio.sleep(interval_s)

    async def quote_route(self, body: Mapping[str, Any]) -> Any:
        """POST /routing/quote with the request body as documented."""
        return await self.request(_wire.Call("POST", f"{_wire.API_PREFIX}/routing/quote", body))
