"""What the sync and async clients share: building requests, retry decisions, reading answers.

Pure functions over plain values, so both clients make the same decisions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from synccash.client._errors import ApiError, error_from_response

API_PREFIX: Final = "/api/v1"
#: Answers worth another try with the same Idempotency-Key: the request may not have been seen.
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
#: Longest wait a Retry-After header can ask of us between two tries.
MAX_RETRY_AFTER_S: Final = 30.0
USER_AGENT: Final = "synccash-client/0.1.0"


@dataclass(frozen=True)
class Call:
    """One logical API call: retried as a whole, with one Idempotency-Key for every try."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    idempotency_key: str | None = None

    def headers(self, credential: str) -> dict[str, str]:
        """Headers of every try of this call."""
        headers = {"Authorization": f"Bearer {credential}", "User-Agent": USER_AGENT}
        if self.idempotency_key is not None:
            headers["Idempotency-Key"] = self.idempotency_key
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def content(self) -> bytes | None:
        """The JSON body, compact."""
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":")).encode()


def post(path: str, body: Mapping[str, Any] | None, idempotency_key: str | None) -> Call:
    """A POST with the caller's Idempotency-Key or a new one (kept for every retry)."""
    return Call("POST", path, body or {}, None, idempotency_key or str(uuid.uuid4()))


def amount_text(amount: str | Decimal) -> str:
    """The API's decimal string; floats are refused (0.1 + 0.2 is not money)."""
    if isinstance(amount, bool) or not isinstance(amount, str | Decimal):
        msg = f"amount must be a decimal string or Decimal, not {type(amount).__name__}"
        raise TypeError(msg)
    return str(amount)


def payee(merchant_account: str | None, payee_msisdn: str | None) -> dict[str, str]:
    """Exactly one payee field."""
    if (merchant_account is None) == (payee_msisdn is None):
        msg = "give exactly one of merchant_account and payee_msisdn"
        raise ValueError(msg)
    if merchant_account is not None:
        return {"merchant_account": merchant_account}
    return {"msisdn": str(payee_msisdn)}


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping without its None values (the API's defaults apply instead)."""
    return {k: v for k, v in values.items() if v is not None}


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), capped."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def backoff_s(attempt: int, base_s: float, hint_s: float | None) -> float:
    """Wait before try `attempt + 1` (0-based attempt): the server's hint, else doubling."""
    if hint_s is not None:
        return hint_s
    return float(base_s * (2**attempt))


def outcome(status: int, headers: Mapping[str, str], content: bytes) -> Any:
    """The decoded JSON of a 2xx answer, or raise the ApiError of any other."""
    document: Any = None
    if content:
        try:
            document = json.loads(content)
        except ValueError:
            document = None
    if 200 <= status < 300:
        return document
    raise error_from_response(
        status, document if isinstance(document, dict) else None, retry_after(headers)
    )


def should_retry(error: ApiError) -> bool:
    """Whether this answer is worth another try of the same call."""
    return error.status in RETRY_STATUSES
