"""What every provider client shares: sending, transport-failure classes, tokens, JSON.

The one money-safety rule that lives here: a failure *before* the request was
written (connection refused, DNS, connect timeout, no pooled connection) is
TRANSIENT, because nothing reached the provider; a failure *after* it may have
been written (read/write timeout, connection dropped mid-exchange) is UNKNOWN
on a submit, because the provider may have accepted it. On a status query
every transport failure is TRANSIENT: asking again is harmless.

Exception texts are never copied into outcomes or logs: httpx messages can
carry URLs and we want no chance of leaking credentials. Only the exception
class name is kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final

import anyio
import httpx
from attrs import define, field, frozen

from synccash.adapters.providers._table import Operation
from synccash.core.money import Money
from synccash.core.outcomes import (
    PAYER_DECISIONS,
    FailureReason,
    OutcomeKind,
    ProviderOutcome,
)

#: Our own User-Agent: MTN's new platform rejects `python-requests` agents with 403.
USER_AGENT: Final = "SyncCash/0.1 (+https://synccash.example)"

#: Failures raised before any byte of the request left us: nothing reached the provider.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Clock = Callable[[], float]
"""Monotonic seconds, used only for token expiry."""


def transport_outcome(exc: httpx.TransportError, operation: Operation) -> ProviderOutcome:
    """Classify a transport failure (see the module docstring)."""
    name = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return ProviderOutcome.transient(code=name, message="request not sent")
    if operation is Operation.STATUS:
        return ProviderOutcome.transient(code=name, message="status query failed; ask again")
    return ProviderOutcome.unknown(code=name, message="no answer after the request was sent")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (delta or HTTP date), or None."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def throttled(response: httpx.Response) -> ProviderOutcome:
    """429: nothing created, ask again after Retry-After."""
    return ProviderOutcome.transient(
        code="429", message="rate limited", retry_after_seconds=retry_after_seconds(response)
    )


def http_fallback(status_code: int, operation: Operation) -> ProviderOutcome:
    """Classify an HTTP answer that no provider code explained.

    Submit: 5xx may have been processed -> UNKNOWN; 400/422 -> invalid request;
    401/403/404 -> our configuration (credentials, IP allow-list, URL).
    Status: anything but a transaction answer -> TRANSIENT (ask again).
    """
    code = str(status_code)
    if status_code == 429:
        return ProviderOutcome.transient(code=code, message="rate limited")
    if operation is Operation.STATUS:
        return ProviderOutcome.transient(code=code, message=f"status query got HTTP {code}")
    if status_code >= 500:
        return ProviderOutcome.unknown(code=code, message=f"HTTP {code} after submit")
    if status_code in (401, 403, 404, 405):
        return ProviderOutcome.failed(
            FailureReason.CONFIGURATION, code=code, message=f"HTTP {code}: check credentials/URL"
        )
    if 400 <= status_code < 500:
        return ProviderOutcome.failed(
            FailureReason.INVALID_REQUEST, code=code, message=f"HTTP {code}"
        )
    return ProviderOutcome.unknown(code=code, message=f"unexpected HTTP {code} after submit")


def guard_submit(outcome: ProviderOutcome, status_code: int) -> ProviderOutcome:
    """What a submit answer's code may claim given its HTTP status.

    A success code on a non-2xx answer is not believed, and neither is a payer
    decision (rejected, expired) on a 5xx: a failed server cannot vouch for a
    prompt the payer answered. Both become UNKNOWN (reconcile by status).
    """
    code = outcome.provider_code
    if outcome.kind is OutcomeKind.SUCCEEDED and not 200 <= status_code < 300:
        return ProviderOutcome.unknown(code=code, message=f"success code on HTTP {status_code}")
    if status_code >= 500 and outcome.reason in PAYER_DECISIONS:
        return ProviderOutcome.unknown(code=code, message=f"payer decision on HTTP {status_code}")
    return outcome


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None if empty, not JSON, or not an object.

    JSON numbers with a fraction are read as `Decimal` (never a binary float): Hubtel
    and Airtel send amounts and charges as JSON numbers.
    """
    if not response.content:
        return None
    try:
        data = json.loads(response.content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def text(value: object) -> str | None:
    """A scalar from a JSON body as a string (None for missing, objects and lists)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_dict(value: object) -> dict[str, Any]:
    """A JSON sub-object, or an empty dict when it is missing or of another type."""
    return value if isinstance(value, dict) else {}


def minor_units(value: object) -> int | None:
    """A wire amount (JSON number read as Decimal/int, or a numeric string) in minor units.

    None when missing, negative, not a number, or finer than two decimals.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None
    try:
        scaled = Decimal(value.strip() if isinstance(value, str) else value) * 100
    except ArithmeticError:
        return None
    if not scaled.is_finite() or scaled < 0 or scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def decimal_amount(amount: Money) -> Decimal:
    """Money as an exact decimal in major units (e.g. Decimal('12.50'))."""
    return Decimal(amount.to_decimal_string())


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """JSON-encode with `Decimal` values written as exact JSON numbers (no float ever).

    Providers that take amounts as JSON numbers (Airtel, Hubtel) get "12.50"
    written verbatim; the stdlib encoder would need a float for that.
    """
    tokens: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Decimal):
            token = f"__decimal_{uuid.uuid4().hex}__"
            tokens[token] = format(value, "f")
            return token
        if isinstance(value, Mapping):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [swap(item) for item in value]
        return value

    body = json.dumps(swap(payload), separators=(",", ":"), ensure_ascii=False)
    for token, number in tokens.items():
        body = body.replace(f'"{token}"', number)
    return body.encode()


@frozen
class Token:
    """A bearer token and when (monotonic seconds) to stop using it."""

    value: str = field(repr=False)  # a bearer token is a credential
    expires_at: float


@define
class TokenCache:
    """One cached bearer token, refreshed early and fetched by one caller at a time."""

    clock: Clock
    #: Stop using a token this many seconds before the provider says it expires.
    margin_seconds: float = 30.0
    _token: Token | None = None
    _lock: anyio.Lock | None = None

    def valid(self) -> str | None:
        """The cached token if it is still good, else None."""
        if self._token is not None and self.clock() < self._token.expires_at:
            return self._token.value
        return None

    def lock(self) -> anyio.Lock:
        """The lock that serialises token fetches (created lazily inside the event loop)."""
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    def store(self, value: str, expires_in: float) -> None:
        """Cache a new token valid for `expires_in` seconds from now."""
        # A short-lived token (Airtel: 180 s) must not be refreshed on every call.
        margin = min(self.margin_seconds, expires_in / 4)
        self._token = Token(value, self.clock() + max(0.0, expires_in - margin))

    def invalidate(self, value: str | None = None) -> None:
        """Forget the token (only if it is still `value`, when given)."""
        if value is None or (self._token is not None and self._token.value == value):
            self._token = None


def expires_in_seconds(raw: object, default: float) -> float:
    """`expires_in` as seconds: a number or a numeric string (Airtel sends "180")."""
    if isinstance(raw, bool):
        return default
    if isinstance(raw, int | float):
        return float(raw) if raw > 0 else default
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return default
        return value if value > 0 else default
    return default


class TokenUnavailable(Exception):
    """Internal: the token call did not give a token; carries the outcome to return."""

    def __init__(self, outcome: ProviderOutcome) -> None:
        """Wrap the classified outcome of the failed token call."""
        super().__init__(outcome.provider_code or "token unavailable")
        self.outcome = outcome


def token_failure(response: httpx.Response, operation: Operation) -> ProviderOutcome:
    """Classify a token endpoint answer that carried no token (nothing was submitted)."""
    code = f"token:{response.status_code}"
    if response.status_code == 429:
        return ProviderOutcome.transient(
            code=code,
            message="token rate limited",
            retry_after_seconds=retry_after_seconds(response),
        )
    if operation is Operation.SUBMIT and response.status_code in (400, 401, 403):
        return ProviderOutcome.failed(
            FailureReason.CONFIGURATION, code=code, message="token rejected: check credentials"
        )
    return ProviderOutcome.transient(code=code, message="token unavailable")
