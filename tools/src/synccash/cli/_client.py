"""A small synchronous client of a running SyncCash API, for `pay` and `report`."""

from __future__ import annotations

import os
import uuid
from typing import Any, Final, Self

import httpx

from synccash.cli._errors import EXIT_USAGE, CliError

DEFAULT_API_URL: Final = "http://127.0.0.1:8000"
TOKEN_ENV: Final = "SYNCCASH_TOKEN"  # noqa: S105  (a variable name, not a secret)
API_PREFIX: Final = "/api/v1"


def resolve_token(token: str | None) -> str:
    """The --token value, else $SYNCCASH_TOKEN, else a usage error."""
    value = token or os.environ.get(TOKEN_ENV, "")
    if not value.strip():
        raise CliError(
            f"no token: pass --token or set {TOKEN_ENV} "
            "(mint one with `synccash token mint --merchant <id>`)",
            exit_code=EXIT_USAGE,
        )
    return value.strip()


class ApiClient:
    """Calls the merchant API with a bearer token; API problems become CliErrors."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "synccash-cli"},
            transport=transport,
            timeout=timeout,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, API_PREFIX + path, **kwargs)
        if response.is_success:
            return response.json()
        raise CliError(_problem_text(response), exit_code=_exit_code(response.status_code))

    def initiate(self, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """POST /payments/initiate with an Idempotency-Key (random unless given)."""
        key = idempotency_key or str(uuid.uuid4())
        return self._call("POST", "/payments/initiate", json=body, headers={"Idempotency-Key": key})

    def status(self, payment_id: str) -> Any:
        """GET /payments/{id}/status."""
        return self._call("GET", f"/payments/{payment_id}/status")

    def cancel(self, payment_id: str) -> Any:
        """POST /payments/{id}/cancel."""
        return self._call("POST", f"/payments/{payment_id}/cancel")

    def list(self, params: dict[str, str]) -> Any:
        """GET /payments with filters."""
        return self._call("GET", "/payments", params=params)

    def create_payout(self, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """POST /payouts with an Idempotency-Key (random unless given)."""
        key = idempotency_key or str(uuid.uuid4())
        return self._call("POST", "/payouts", json=body, headers={"Idempotency-Key": key})

    def payout(self, payout_id: str) -> Any:
        """GET /payouts/{id}."""
        return self._call("GET", f"/payouts/{payout_id}")

    def payouts(self, params: dict[str, str]) -> Any:
        """GET /payouts with filters."""
        return self._call("GET", "/payouts", params=params)

    def cancel_payout(self, payout_id: str) -> Any:
        """POST /payouts/{id}/cancel."""
        return self._call("POST", f"/payouts/{payout_id}/cancel")

    def daily_report(self, day: str) -> Any:
        """GET /reports/daily?date=."""
        return self._call("GET", "/reports/daily", params={"date": day})


def _exit_code(status: int) -> int:
    # The API said our input was wrong (4xx but not auth/not-found/conflict): a usage error.
    return EXIT_USAGE if status in (400, 422) else 1


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict):
        code = body.get("code") or body.get("type") or ""
        detail = body.get("detail") or body.get("title") or ""
        return f"HTTP {response.status_code} {code}: {detail}".rstrip(": ")
    return f"HTTP {response.status_code}"
