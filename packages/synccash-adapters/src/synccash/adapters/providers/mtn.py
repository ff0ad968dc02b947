"""MTN MoMo Open API client: Collection and Disbursement products.

Faithful to shared/reference/provider-apis.md sec 1 and the Swagger exports:
one token per product (`POST /{product}/token/`, Basic auth + subscription
key), `X-Reference-Id` = our attempt reference (MTN's idempotency key),
`requesttopay` / `transfer` / `refund` answered by 202 with an empty body,
status by GET on the same reference.

Quirks handled: `Content-Length: 0` on body-less POSTs (else 411), a 409 on a
reused reference means "already accepted" (PENDING: poll), a 404 on status
means "never accepted" (NOT_FOUND: resend with the same reference), `reason`
as a bare string (observed) or an `ErrorReason` object (spec), the
undocumented `CREATED` status and `ONGOING`/`DELAYED` (keep polling), HTTP
500 `INTERNAL_PROCESSING_ERROR` on a POST (UNKNOWN) versus the same code as a
status reason (a definitive failure, "predominantly" insufficient funds).
The `sandbox` target environment only takes EUR; every other environment
(e.g. `mtnghana`) gets the payment's own currency (GHS).
"""

from __future__ import annotations

import base64
import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import httpx
import structlog
from attrs import define, field

from synccash.adapters.providers._http import (
    USER_AGENT,
    Clock,
    TokenCache,
    TokenUnavailable,
    as_dict,
    encode_json,
    expires_in_seconds,
    guard_submit,
    http_fallback,
    json_object,
    text,
    throttled,
    token_failure,
    transport_outcome,
)
from synccash.adapters.providers._model import Balance, LookupUnavailable, callback_url
from synccash.adapters.providers._table import (
    STATUS_ONLY,
    SUBMIT_ONLY,
    Operation,
    OutcomeTable,
    Rule,
    build,
)
from synccash.adapters.settings import ProviderCredentials
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest
from synccash.core.providers import ProviderId

_log = structlog.get_logger(__name__)

#: Seconds before expiry a token is replaced (a quarter of a shorter token's life at most).
TOKEN_MARGIN: Final = 600.0

_F = OutcomeKind.FAILED
_R = FailureReason

#: Values of the `status` field of RequestToPayResult / TransferResult / RefundResult.
MTN_STATUSES: Final = OutcomeTable(
    "mtn-status",
    [
        Rule("SUCCESSFUL", OutcomeKind.SUCCEEDED, ops=STATUS_ONLY),
        Rule("PENDING", OutcomeKind.PENDING, ops=STATUS_ONLY),
        Rule("CREATED", OutcomeKind.PENDING, ops=STATUS_ONLY, note="undocumented in v1: pending"),
        Rule("ONGOING", OutcomeKind.PENDING, ops=STATUS_ONLY, note="keep polling, never resubmit"),
        Rule("DELAYED", OutcomeKind.PENDING, ops=STATUS_ONLY, note="keep polling, never resubmit"),
        Rule("PAYER_DELAYED", OutcomeKind.PENDING, ops=STATUS_ONLY, note="keep polling"),
        Rule("FAILED", _F, _R.OTHER, ops=STATUS_ONLY, note="reason code decides"),
        Rule("REJECTED", _F, _R.REJECTED_BY_PAYER, ops=STATUS_ONLY),
        Rule("TIMEOUT", _F, _R.EXPIRED, ops=STATUS_ONLY),
    ],
)

#: `ErrorReason.code` values (17 in the spec) plus observed extras, per operation.
MTN_CODES: Final = OutcomeTable(
    "mtn",
    [
        Rule("PAYER_NOT_FOUND", _F, _R.PAYER_NOT_FOUND),
        Rule("PAYEE_NOT_FOUND", _F, _R.PAYEE_NOT_FOUND),
        Rule("NOT_ENOUGH_FUNDS", _F, _R.INSUFFICIENT_FUNDS),
        Rule("PAYER_LIMIT_REACHED", _F, _R.LIMIT_EXCEEDED),
        Rule("APPROVAL_REJECTED", _F, _R.REJECTED_BY_PAYER),
        Rule("PAYMENT_NOT_APPROVED", _F, _R.REJECTED_BY_PAYER),
        Rule("TRANSACTION_CANCELED", _F, _R.REJECTED_BY_PAYER),
        Rule("EXPIRED", _F, _R.EXPIRED),
        Rule("COULD_NOT_PERFORM_TRANSACTION", _F, _R.EXPIRED, note="5-minute approval timeout"),
        Rule("PAYEE_NOT_ALLOWED_TO_RECEIVE", _F, _R.NOT_ALLOWED),
        Rule("NOT_ALLOWED", _F, _R.NOT_ALLOWED),
        Rule("PAYER_NOT_ALLOWED", _F, _R.NOT_ALLOWED),
        Rule("NOT_ALLOWED_TARGET_ENVIRONMENT", _F, _R.CONFIGURATION),
        Rule("INVALID_CALLBACK_URL_HOST", _F, _R.CONFIGURATION),
        Rule("INVALID_CURRENCY", _F, _R.CONFIGURATION),
        Rule("TRANSFERTYPE_UNKNOWN", _F, _R.CONFIGURATION),
        Rule("TRANSFER_TYPE_UNKNOWN", _F, _R.CONFIGURATION),
        # MTN: "predominantly" insufficient funds when it is a status reason;
        # as an HTTP 500 on a POST the request may have been processed.
        Rule("INTERNAL_PROCESSING_ERROR", _F, _R.INSUFFICIENT_FUNDS, ops=STATUS_ONLY),
        Rule("INTERNAL_PROCESSING_ERROR", OutcomeKind.UNKNOWN, ops=SUBMIT_ONLY),
        Rule("SERVICE_UNAVAILABLE", _F, _R.PROVIDER_UNAVAILABLE, ops=STATUS_ONLY),
        Rule("SERVICE_UNAVAILABLE", OutcomeKind.UNKNOWN, ops=SUBMIT_ONLY),
        Rule("RESOURCE_ALREADY_EXIST", OutcomeKind.PENDING, ops=SUBMIT_ONLY, note="409: poll"),
        Rule("RESOURCE_NOT_FOUND", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY),
        Rule("RESOURCE_NOT_FOUND", OutcomeKind.NOT_FOUND, ops=STATUS_ONLY),
    ],
)

_PRODUCT_FOR: Final = {
    AttemptKind.COLLECT: "collection",
    AttemptKind.DISBURSE: "disbursement",
    AttemptKind.REFUND: "disbursement",  # no refund under /collection
}
_RESOURCE_FOR: Final = {
    AttemptKind.COLLECT: "/collection/v1_0/requesttopay",
    AttemptKind.DISBURSE: "/disbursement/v1_0/transfer",
    AttemptKind.REFUND: "/disbursement/v1_0/refund",
}


@define
class _Product:
    name: str
    credentials: ProviderCredentials = field(repr=False)
    tokens: TokenCache


def reason_code(reason: object) -> str | None:
    """`reason` as observed (a bare string) or as the spec's ErrorReason {code, message}."""
    if isinstance(reason, dict):
        return text(reason.get("code"))
    return text(reason)


def error_code(body: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(code, message) of an MTN error body: {code, message} or the token's {error}."""
    if body is None:
        return None, None
    code = text(body.get("code")) or text(body.get("error"))
    message = text(body.get("message")) or text(body.get("error_description"))
    return code, message


def status_outcome(body: dict[str, Any] | None) -> ProviderOutcome:
    """Classify a 200 status resource (RequestToPayResult / TransferResult / RefundResult)."""
    if body is None:
        return ProviderOutcome.transient(code="malformed", message="status body is not JSON")
    status = text(body.get("status"))
    rule = MTN_STATUSES.rule(Operation.STATUS, status)
    if rule is None:
        return ProviderOutcome.unknown(code=status, message="unrecognised MTN status")
    if rule.kind is OutcomeKind.FAILED:
        reason = body.get("reason")
        code = reason_code(reason)
        message = text(as_dict(reason).get("message"))
        outcome = MTN_CODES.outcome(Operation.STATUS, code, message=message)
        if outcome is not None and outcome.kind is OutcomeKind.FAILED:
            return outcome
        return build(rule, code or status, message=message or rule.note, transaction_id=None)
    return build(
        rule, status, message=None, transaction_id=text(body.get("financialTransactionId"))
    )


def submit_outcome(response: httpx.Response) -> ProviderOutcome:
    """Classify the answer to requesttopay / transfer / refund."""
    if response.status_code == 202 or 200 <= response.status_code < 300:
        return ProviderOutcome.pending(code=str(response.status_code), message="accepted")
    if response.status_code == 409:
        # A reused reference: the first submission is the real one; poll it.
        return ProviderOutcome.pending(code="RESOURCE_ALREADY_EXIST", message="already accepted")
    if response.status_code == 429:
        return throttled(response)
    code, message = error_code(json_object(response))
    outcome = MTN_CODES.outcome(Operation.SUBMIT, code, message=message)
    if outcome is not None:
        return guard_submit(outcome, response.status_code)
    return http_fallback(response.status_code, Operation.SUBMIT)


class MtnMomoClient:
    """MTN MoMo Open API (Collection + Disbursement) behind the ProviderClient shape."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        collection: ProviderCredentials,
        disbursement: ProviderCredentials,
        target_environment: str,
        public_base_url: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """Wire the client.

        `base_url` None uses the credentials' base URL; "" sends paths relative
        to `http.base_url` (an in-process sandbox client already pointing at MTN).
        """
        self._http = http
        self._base = collection.base_url if base_url is None else base_url
        self._environment = target_environment
        self._public_base_url = public_base_url
        # None: the injected client's own timeout applies.
        self._timeout: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        # One token per product and process, refreshed 10 minutes before it expires (MTN
        # advises about 10 minutes ahead, and never a token per transaction).
        self._products = {
            "collection": _Product("collection", collection, TokenCache(clock, TOKEN_MARGIN)),
            "disbursement": _Product("disbursement", disbursement, TokenCache(clock, TOKEN_MARGIN)),
        }

    @property
    def provider(self) -> ProviderId:
        """MTN."""
        return ProviderId.MTN

    def currency_for(self, currency: str) -> str:
        """MTN's sandbox environment only takes EUR; real environments the payment's currency."""
        return "EUR" if self._environment == "sandbox" else currency

    # --- tokens -----------------------------------------------------------------

    async def _token(self, product: _Product, operation: Operation) -> str:
        cached = product.tokens.valid()
        if cached is not None:
            return cached
        async with product.tokens.lock():
            cached = product.tokens.valid()
            if cached is not None:
                return cached
            creds = product.credentials
            basic = base64.b64encode(f"{creds.user}:{creds.secret}".encode()).decode()
            try:
                response = await self._http.post(
                    f"{self._base}/{product.name}/token/",
                    content=b"",
                    headers={
                        "Authorization": f"Basic {basic}",
                        "Ocp-Apim-Subscription-Key": creds.subscription_key,
                        "X-Target-Environment": self._environment,
                        "Content-Length": "0",
                        "User-Agent": USER_AGENT,
                    },
                    **self._timeout,
                )
            except httpx.TransportError as exc:
                # Only the token call failed: the business request was never sent.
                raise TokenUnavailable(
                    ProviderOutcome.transient(code=type(exc).__name__, message="token call failed")
                ) from None
            body = json_object(response)
            token = text(body.get("access_token")) if body else None
            if response.status_code != 200 or body is None or not token:
                _log.warning("mtn.token_failed", product=product.name, http=response.status_code)
                raise TokenUnavailable(token_failure(response, operation))
            product.tokens.store(token, expires_in_seconds(body.get("expires_in"), 3600.0))
            return token

    async def _call(
        self,
        product_name: str,
        method: str,
        path: str,
        operation: Operation,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | ProviderOutcome:
        """One business call with the bearer token; on 401 refresh the token once and retry."""
        product = self._products[product_name]
        response: httpx.Response | None = None
        for _ in range(2):
            try:
                token = await self._token(product, operation)
            except TokenUnavailable as exc:
                return exc.outcome
            all_headers = {
                "Authorization": f"Bearer {token}",
                "X-Target-Environment": self._environment,
                "Ocp-Apim-Subscription-Key": product.credentials.subscription_key,
                "User-Agent": USER_AGENT,
                **(headers or {}),
            }
            if body is not None:
                content = encode_json(body)
                all_headers["Content-Type"] = "application/json"
            else:
                content = b""
                if method == "POST":
                    all_headers["Content-Length"] = "0"  # MTN answers 411 without it
            try:
                response = await self._http.request(
                    method,
                    f"{self._base}{path}",
                    content=content or None,
                    headers=all_headers,
                    **self._timeout,
                )
            except httpx.TransportError as exc:
                return transport_outcome(exc, operation)
            if response.status_code != 401:
                return response
            # Expired or revoked token: nothing was accepted; refresh once.
            product.tokens.invalidate(token)
            _log.info("mtn.token_refresh_on_401", product=product_name)
        assert response is not None  # noqa: S101 - the loop ran at least once
        return response

    # --- business calls ---------------------------------------------------------

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """requesttopay (collect), transfer (disburse) or refund, with X-Reference-Id."""
        party = {"partyIdType": "MSISDN", "partyId": request.msisdn.e164}
        note = _message(request.note)
        body: dict[str, Any] = {
            "amount": request.amount.to_decimal_string(),
            "currency": self.currency_for(request.amount.currency),
            "externalId": request.payment_id,
            "payerMessage": note,
            "payeeNote": note,
        }
        if request.kind is AttemptKind.COLLECT:
            body["payer"] = party
        elif request.kind is AttemptKind.DISBURSE:
            body["payee"] = party
        else:
            if not request.original_reference:
                return ProviderOutcome.failed(
                    FailureReason.INVALID_REQUEST,
                    code="missing_reference_to_refund",
                    message="an MTN refund needs the original requesttopay reference",
                )
            body["referenceIdToRefund"] = request.original_reference
        headers = {"X-Reference-Id": request.reference}
        url = request.callback_url or (
            callback_url(self._public_base_url, ProviderId.MTN, request.reference)
            if self._public_base_url
            else None
        )
        if url:
            headers["X-Callback-Url"] = url
        result = await self._call(
            _PRODUCT_FOR[request.kind],
            "POST",
            _RESOURCE_FOR[request.kind],
            Operation.SUBMIT,
            body=body,
            headers=headers,
        )
        outcome = result if isinstance(result, ProviderOutcome) else submit_outcome(result)
        _log.info(
            "mtn.submit",
            kind=request.kind.value,
            reference=request.reference,
            msisdn=request.msisdn.masked,
            outcome=outcome.kind.value,
            code=outcome.provider_code,
        )
        return outcome

    async def status(self, kind: AttemptKind, reference: str) -> ProviderOutcome:
        """GET the status resource of an attempt; 404 means it was never accepted."""
        result = await self._call(
            _PRODUCT_FOR[kind], "GET", f"{_RESOURCE_FOR[kind]}/{reference}", Operation.STATUS
        )
        if isinstance(result, ProviderOutcome):
            return result
        if result.status_code == 200:
            return status_outcome(json_object(result))
        if result.status_code == 404:
            code, message = error_code(json_object(result))
            return ProviderOutcome.not_found(
                code=code or "RESOURCE_NOT_FOUND", message=message or "never accepted"
            )
        if result.status_code == 429:
            return throttled(result)
        return http_fallback(result.status_code, Operation.STATUS)

    async def lookup(self, msisdn: Msisdn) -> AccountInfo:
        """Account-holder active check, then the basic user info name when active."""
        base = f"/collection/v1_0/accountholder/msisdn/{msisdn.e164}"
        result = await self._call("collection", "GET", f"{base}/active", Operation.STATUS)
        if isinstance(result, ProviderOutcome):
            raise LookupUnavailable(f"MTN lookup failed ({result.provider_code})")
        if result.status_code == 404:
            return AccountInfo(ProviderId.MTN, msisdn, active=False)
        body = json_object(result)
        if result.status_code != 200 or body is None or not isinstance(body.get("result"), bool):
            raise LookupUnavailable(f"MTN lookup answered HTTP {result.status_code}")
        if not body["result"]:
            return AccountInfo(ProviderId.MTN, msisdn, active=False)
        return AccountInfo(ProviderId.MTN, msisdn, active=True, name=await self._name(base))

    async def _name(self, base: str) -> str | None:
        result = await self._call("collection", "GET", f"{base}/basicuserinfo", Operation.STATUS)
        if isinstance(result, ProviderOutcome) or result.status_code != 200:
            return None  # the name is a nicety; the active check already answered
        body = json_object(result) or {}
        parts = [text(body.get("given_name")), text(body.get("family_name"))]
        name = " ".join(p for p in parts if p) or text(body.get("name"))
        return name or None

    async def balance(self, product: str = "collection") -> Balance | None:
        """The product account's available balance, or None when MTN gave no answer."""
        result = await self._call(
            product, "GET", f"/{product}/v1_0/account/balance", Operation.STATUS
        )
        if isinstance(result, ProviderOutcome) or result.status_code != 200:
            return None
        body = json_object(result) or {}
        try:
            available = Decimal(str(body.get("availableBalance")))
        except InvalidOperation:
            return None
        currency = text(body.get("currency"))
        if not available.is_finite() or not currency:
            return None
        return Balance(available, currency)


def _message(note: str) -> str:
    """payerMessage/payeeNote: MTN answers 400 to special characters such as ' and to > 160 chars."""
    return re.sub(r"[^A-Za-z0-9 .,:/_#-]", " ", note).strip()[:160]
