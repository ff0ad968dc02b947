"""AT Money client, modelled on the Airtel Money Open API (provider-apis.md sec 2).

AT Money publishes no merchant API; the Airtel Money Open API is the closest
documented shape, so this client speaks it with `X-Country: GH` and
`X-Currency: GHS`: an OAuth2 client-credentials token, collection by USSD push
(`POST /merchant/v1/payments/`), status enquiry (`GET /standard/v1/payments/{id}`),
refund (`POST /standard/v1/payments/refund`, full only, by airtel_money_id),
disbursement (`POST /standard/v1/disbursements/`) and KYC lookup.

Security as Airtel documents it (`_airtel_crypto`; assumed for AT Money): the
disbursement PIN (`AIRTELTIGO_PIN`) goes RSA-encrypted with the key from
`GET /v1/rsa/encryption-keys` (cached until its `valid_upto`, or
`AIRTELTIGO_RSA_PUBLIC_KEY` when configured); with `AIRTELTIGO_MESSAGE_SIGNING` on,
every request body is signed (`x-signature` / `x-key`). An answer that refuses the
signature or the encrypted PIN (`DP00800001026`, `DP00900001016`, `ROUTER116`) drops a
fetched key and the call is made once more with a fresh one: a refused request moved
nothing, and it keeps its transaction id.

Every answer comes in the `{data, status}` envelope and many business errors
arrive as HTTP 200 with `status.success: false`, so the answer is classified on
`status.response_code` first (the DP codes), then the ESB/ROUTER codes, then
`success`, and the HTTP status last. The transaction id we send is our
attempt reference, so a resend with the same id is recognised by the provider.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import httpx
import structlog

from synccash.adapters.providers._airtel_crypto import (
    EncryptionKey,
    KeyUnusable,
    encrypt_pin,
    key_from_answer,
    load_public_key,
    sign_body,
)
from synccash.adapters.providers._http import (
    USER_AGENT,
    Clock,
    TokenCache,
    TokenUnavailable,
    as_dict,
    decimal_amount,
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
from synccash.adapters.providers._model import LookupUnavailable
from synccash.adapters.providers._table import (
    STATUS_ONLY,
    SUBMIT_ONLY,
    MessageRule,
    Operation,
    OutcomeTable,
    Rule,
    build,
)
from synccash.adapters.settings import ProviderCredentials, SettingsError
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest
from synccash.core.providers import ProviderId

_log = structlog.get_logger(__name__)

_F = OutcomeKind.FAILED
_U = OutcomeKind.UNKNOWN
_P = OutcomeKind.PENDING
_S = OutcomeKind.SUCCEEDED
_R = FailureReason

#: `data.transaction.status` of an enquiry.
AIRTEL_STATUSES: Final = OutcomeTable(
    "airteltigo-status",
    [
        Rule("TS", _S, ops=STATUS_ONLY, note="success"),
        Rule("TF", _F, _R.OTHER, ops=STATUS_ONLY, note="failed"),
        Rule("TA", _U, ops=STATUS_ONLY, note="ambiguous: keep querying"),
        Rule("TIP", _P, ops=STATUS_ONLY, note="in progress"),
        Rule("TE", _F, _R.EXPIRED, ops=STATUS_ONLY, note="expired"),
    ],
)

#: `status.response_code` (DP codes) and `status.result_code` / `status_code` (ESB, ROUTER).
AIRTEL_CODES: Final = OutcomeTable(
    "airteltigo",
    [
        # Collection DP008000010xx
        Rule("DP00800001000", _U, note="ambiguous"),
        Rule("DP00800001001", _S, note="success"),
        Rule("DP00800001002", _F, _R.REJECTED_BY_PAYER, note="incorrect PIN"),
        Rule("DP00800001003", _F, _R.LIMIT_EXCEEDED, note="limit exceeded"),
        Rule("DP00800001004", _F, _R.INVALID_REQUEST, note="invalid amount"),
        Rule("DP00800001005", _F, _R.EXPIRED, note="transaction id invalid / PIN not entered"),
        Rule("DP00800001006", _P, note="in process"),
        Rule("DP00800001007", _F, _R.INSUFFICIENT_FUNDS, note="not enough balance"),
        Rule("DP00800001008", _F, _R.REJECTED_BY_PAYER, note="refused"),
        Rule("DP00800001009", _F, _R.NOT_ALLOWED, note="do not honor"),
        Rule("DP00800001010", _F, _R.NOT_ALLOWED, note="not permitted to payee"),
        Rule("DP00800001024", _U, note="timed out"),
        Rule("DP00800001025", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="not found"),
        Rule("DP00800001025", OutcomeKind.NOT_FOUND, ops=STATUS_ONLY, note="not found"),
        Rule("DP00800001026", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="forbidden"),
        Rule("DP00800001029", _F, _R.EXPIRED, note="expired"),
        # Disbursement DP009000010xx
        Rule("DP00900001000", _U, note="ambiguous"),
        Rule("DP00900001001", _S, note="success"),
        Rule("DP00900001003", _F, _R.LIMIT_EXCEEDED, note="max limit"),
        Rule("DP00900001004", _F, _R.INVALID_REQUEST, note="invalid amount"),
        Rule("DP00900001005", _F, _R.OTHER, note="failed"),
        Rule("DP00900001006", _P, note="processing"),
        Rule("DP00900001007", _F, _R.INSUFFICIENT_FUNDS, note="insufficient funds"),
        Rule("DP00900001009", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="invalid initiatee"),
        Rule("DP00900001010", _F, _R.NOT_ALLOWED, note="user not allowed"),
        Rule("DP00900001011", _F, _R.OTHER, ops=SUBMIT_ONLY, note="similar transaction exists"),
        Rule("DP00900001012", _F, _R.PAYEE_NOT_FOUND, note="invalid mobile"),
        Rule("DP00900001013", _F, _R.NOT_ALLOWED, note="refused"),
        Rule("DP00900001014", _U, note="timed out"),
        Rule("DP00900001015", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="not found"),
        Rule("DP00900001015", OutcomeKind.NOT_FOUND, ops=STATUS_ONLY, note="not found"),
        Rule("DP00900001016", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="forbidden"),
        Rule("DP00900001017", _P, ops=SUBMIT_ONLY, note="duplicate transaction id: query status"),
        # ESB result codes (deprecated but still sent)
        Rule("ESB000001", _U, ops=SUBMIT_ONLY, note="generic error"),
        Rule("ESB000004", _F, _R.OTHER, ops=SUBMIT_ONLY, note="initiate error"),
        Rule("ESB000008", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="field validation"),
        Rule("ESB000011", _F, _R.OTHER, ops=SUBMIT_ONLY, note="failed"),
        Rule("ESB000033", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="MSISDN length"),
        Rule("ESB000034", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="country"),
        Rule("ESB000035", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="currency"),
        Rule("ESB000036", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="MSISDN length"),
        Rule("ESB000039", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="vendor not configured"),
        # Router codes
        Rule("ROUTER001", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="wallet not configured"),
        Rule("ROUTER005", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="country"),
        Rule("ROUTER006", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="country"),
        Rule("ROUTER110", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="partner not found"),
        Rule("ROUTER114", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="PIN"),
        Rule("ROUTER115", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="PIN"),
        Rule("ROUTER116", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="PIN"),
        Rule("ROUTER117", _U, ops=SUBMIT_ONLY, note="timeout"),
    ],
    [
        # A reused transaction.id on a payment: the first submission is the real one.
        MessageRule("ESB000001", "duplicate", None, kind=_P),
    ],
)

_COUNTRY: Final = "GH"
_NOT_ALNUM: Final = re.compile(r"[^A-Za-z0-9]")
#: Answers that refuse our signature or encrypted PIN: the key may have been rotated.
_KEY_REFUSED: Final = frozenset({"DP00800001026", "DP00900001016", "ROUTER116"})
#: A fetched key is used at most this long (and never past its `valid_upto`).
_KEY_MAX_AGE: Final = 86_400.0


def envelope_codes(body: dict[str, Any] | None) -> tuple[list[str], str | None, bool | None]:
    """(codes to try in order, message, success) from the {data, status} envelope.

    Also understands the gateway's bare `{"status_code": "ROUTER110", "status_message": …}`.
    """
    if body is None:
        return [], None, None
    status = as_dict(body.get("status"))
    codes = [
        c
        for c in (
            text(status.get("response_code")),
            text(status.get("result_code")),
            text(body.get("status_code")),
        )
        if c
    ]
    message = text(status.get("message")) or text(body.get("status_message"))
    success = status.get("success")
    if isinstance(success, str):
        success = success.strip().lower() == "true"
    return codes, message, success if isinstance(success, bool) else None


def _first(codes: list[str], operation: Operation, message: str | None) -> ProviderOutcome | None:
    for code in codes:
        outcome = AIRTEL_CODES.outcome(operation, code, message=message)
        if outcome is not None:
            return outcome
    return None


def submit_outcome(response: httpx.Response, kind: AttemptKind) -> ProviderOutcome:
    """Classify a payment / disbursement / refund answer."""
    if response.status_code == 429:
        return throttled(response)
    body = json_object(response)
    codes, message, success = envelope_codes(body)
    outcome = _first(codes, Operation.SUBMIT, message)
    if outcome is not None:
        if outcome.kind is _S:
            outcome = _with_transaction_id(outcome, body)
        return guard_submit(outcome, response.status_code)
    if response.status_code >= 300 or success is False:
        if success is False and response.status_code < 300:
            # A business error with HTTP 200 that no table row explains: declined, nothing moved.
            return ProviderOutcome.failed(
                _R.OTHER, code=codes[0] if codes else "200", message=message
            )
        return http_fallback(response.status_code, Operation.SUBMIT)
    if body is None or success is None:
        # 2xx but not the envelope: it may have been accepted.
        return ProviderOutcome.unknown(code=str(response.status_code), message="malformed answer")
    txn = as_dict(as_dict(body.get("data")).get("transaction"))
    if kind is AttemptKind.REFUND and text(txn.get("status")) in ("SUCCESS", "TS"):
        # Refunds are answered synchronously.
        return ProviderOutcome.succeeded(text(txn.get("airtel_money_id")), code="SUCCESS")
    # "SUCCESS" on a payment/disbursement means accepted; the enquiry gives the result.
    return ProviderOutcome.pending(code=codes[0] if codes else "200", message=message)


def _with_transaction_id(outcome: ProviderOutcome, body: dict[str, Any] | None) -> ProviderOutcome:
    txn = as_dict(as_dict((body or {}).get("data")).get("transaction"))
    return ProviderOutcome.succeeded(
        text(txn.get("airtel_money_id")) or text(txn.get("reference_id")),
        code=outcome.provider_code,
    )


def status_outcome(response: httpx.Response) -> ProviderOutcome:
    """Classify a payment / disbursement enquiry.

    A transaction state is only read from a 2xx answer; any other answer is a
    failed enquiry (TRANSIENT: ask again) unless it says the id is unknown.
    """
    if response.status_code == 429:
        return throttled(response)
    body = json_object(response)
    codes, message, _success = envelope_codes(body)
    txn = as_dict(as_dict((body or {}).get("data")).get("transaction"))
    status = text(txn.get("status"))
    txn_message = text(txn.get("message")) or message
    ok = 200 <= response.status_code < 300
    rule = AIRTEL_STATUSES.rule(Operation.STATUS, status)
    if ok and rule is not None:
        if rule.kind is _F:
            # The DP code, when it names a failure, says why (e.g. not enough balance).
            coded = _first(codes, Operation.STATUS, txn_message)
            if coded is not None and coded.kind is _F:
                return coded
            return build(rule, status, message=txn_message, transaction_id=None)
        return build(
            rule, status, message=txn_message, transaction_id=text(txn.get("airtel_money_id"))
        )
    if ok and status:
        # A transaction state we do not know: never guess from the envelope's code.
        return ProviderOutcome.unknown(code=status, message="unrecognised AT Money status")
    coded = _first(codes, Operation.STATUS, txn_message)
    if coded is not None and (ok or coded.kind is OutcomeKind.NOT_FOUND):
        return _with_transaction_id(coded, body) if coded.kind is _S else coded
    if response.status_code == 404:
        return ProviderOutcome.not_found(code="404", message=message)
    return http_fallback(response.status_code if not ok else 502, Operation.STATUS)


class AirtelTigoClient:
    """AT Money (Airtel Money Open API shape) behind the ProviderClient shape."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        credentials: ProviderCredentials,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        clock: Clock = time.monotonic,
        currency: str = "GHS",
    ) -> None:
        """Wire the client (`base_url` as for MtnMomoClient: None = credentials, "" = relative)."""
        self._http = http
        self._credentials = credentials
        self._base = credentials.base_url if base_url is None else base_url
        self._timeout: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        self._tokens = TokenCache(clock)
        self._currency = currency
        self._clock = clock
        extra = credentials.extra
        self._pin = extra.get("pin", "")
        self._signing = extra.get("message_signing", "false").lower() == "true"
        self._configured_key = _configured_key(extra.get("rsa_public_key", ""))
        self._key: EncryptionKey | None = None
        self._key_expires_at = 0.0
        self._key_lock: anyio.Lock | None = None

    @property
    def provider(self) -> ProviderId:
        """AT Money."""
        return ProviderId.AIRTELTIGO

    async def _token(self, operation: Operation) -> str:
        cached = self._tokens.valid()
        if cached is not None:
            return cached
        async with self._tokens.lock():
            cached = self._tokens.valid()
            if cached is not None:
                return cached
            payload = {
                "client_id": self._credentials.user,
                "client_secret": self._credentials.secret,
                "grant_type": "client_credentials",
            }
            try:
                response = await self._http.post(
                    f"{self._base}/auth/oauth2/token",
                    content=encode_json(payload),
                    headers={
                        "Content-Type": "application/json",
                        "Accept": "*/*",
                        "User-Agent": USER_AGENT,
                    },
                    **self._timeout,
                )
            except httpx.TransportError as exc:
                raise TokenUnavailable(
                    ProviderOutcome.transient(code=type(exc).__name__, message="token call failed")
                ) from None
            body = json_object(response)
            token = text(body.get("access_token")) if body else None
            if response.status_code != 200 or body is None or not token:
                _log.warning("airteltigo.token_failed", http=response.status_code)
                raise TokenUnavailable(token_failure(response, operation))
            self._tokens.store(token, expires_in_seconds(body.get("expires_in"), 180.0))
            return token

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-Country": _COUNTRY,
            "X-Currency": self._currency,
            "Accept": "*/*",
            "User-Agent": USER_AGENT,
        }

    async def _encryption_key(self, operation: Operation) -> EncryptionKey:
        """The configured key, or Airtel's (fetched once and cached); TokenUnavailable if none."""
        if self._configured_key is not None:
            return self._configured_key
        if self._key is not None and self._clock() < self._key_expires_at:
            return self._key
        if self._key_lock is None:
            self._key_lock = anyio.Lock()
        async with self._key_lock:
            if self._key is not None and self._clock() < self._key_expires_at:
                return self._key
            self._key = await self._fetch_key(operation)
            self._key_expires_at = self._clock() + _key_lifetime(self._key)
            return self._key

    async def _fetch_key(self, operation: Operation) -> EncryptionKey:
        token = await self._token(operation)
        try:
            response = await self._http.get(
                f"{self._base}/v1/rsa/encryption-keys",
                headers=self._headers(token),
                **self._timeout,
            )
        except httpx.TransportError as exc:
            raise TokenUnavailable(
                ProviderOutcome.transient(code=type(exc).__name__, message="key call failed")
            ) from None
        try:
            return _key_in(response)
        except KeyUnusable as exc:
            _log.warning("airteltigo.encryption_key_unavailable", http=response.status_code)
            # Nothing was submitted: ask again later.
            raise TokenUnavailable(
                ProviderOutcome.transient(code="encryption_key", message=str(exc))
            ) from None

    async def _warm_key(self, operation: Operation) -> None:
        """Fetch the key on a call that does not need it yet (a status query), so a later
        submit finds it cached; a failure here is not this call's business."""
        if self._configured_key is not None or not (self._signing or self._pin):
            return
        try:
            await self._encryption_key(operation)
        except TokenUnavailable:
            return

    def forget_key(self) -> None:
        """Drop a fetched encryption key (Airtel refused what it encrypted)."""
        self._key = None
        self._key_expires_at = 0.0

    async def _prepare(
        self, body: dict[str, Any] | None, operation: Operation
    ) -> tuple[bytes | None, dict[str, str]]:
        """The body's bytes (the PIN encrypted) and the signing headers, if any."""
        if body is None:
            return None, {}
        needs_key = self._signing or "pin" in body
        key = await self._encryption_key(operation) if needs_key else None
        if key is not None and "pin" in body:
            body = {**body, "pin": encrypt_pin(key.public_key, str(body["pin"]))}
        content = encode_json(body)
        if key is None or not self._signing:
            return content, {}
        return content, sign_body(key.public_key, content)

    async def _call(
        self, method: str, path: str, operation: Operation, body: dict[str, Any] | None = None
    ) -> httpx.Response | ProviderOutcome:
        """One call with the bearer token; an invalid/expired token is refreshed once, a
        refused signature or encrypted PIN is re-sent once with a freshly fetched key."""
        response: httpx.Response | None = None
        token_retry, key_retry = True, self._configured_key is None
        while True:
            try:
                token = await self._token(operation)
                content, signed = await self._prepare(body, operation)
            except TokenUnavailable as exc:
                return exc.outcome
            if body is None:
                await self._warm_key(operation)
            headers = self._headers(token) | signed
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = await self._http.request(
                    method, f"{self._base}{path}", content=content, headers=headers, **self._timeout
                )
            except httpx.TransportError as exc:
                return transport_outcome(exc, operation)
            if token_retry and _token_rejected(response):
                token_retry = False
                self._tokens.invalidate(token)
                _log.info("airteltigo.token_refresh_on_reject", http=response.status_code)
                continue
            if key_retry and body is not None and _key_refused(response):
                key_retry = False
                self.forget_key()
                _log.info("airteltigo.key_refresh_on_reject", http=response.status_code)
                continue
            return response

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """USSD-push collection, disbursement (B2C) or full refund."""
        amount = decimal_amount(request.amount)
        reference = _alnum(request.payment_id)
        if len(reference) < 4:  # Airtel references are 4-64 alphanumerics
            reference = _alnum(request.reference)
        if request.kind is AttemptKind.COLLECT:
            path = "/merchant/v1/payments/"
            body: dict[str, Any] = {
                "reference": reference,
                "subscriber": {
                    "country": _COUNTRY,
                    "currency": self._currency,
                    "msisdn": request.msisdn.nsn,
                },
                "transaction": {
                    "amount": amount,
                    "country": _COUNTRY,
                    "currency": self._currency,
                    "id": request.reference,
                },
            }
        elif request.kind is AttemptKind.DISBURSE:
            path = "/standard/v1/disbursements/"
            body = {
                "payee": {"currency": self._currency, "msisdn": request.msisdn.nsn},
                "reference": reference,
                "transaction": {"amount": amount, "id": request.reference, "type": "B2C"},
            }
            if self._pin:
                body["pin"] = self._pin  # encrypted with Airtel's key in _prepare
        else:
            if not request.original_provider_transaction_id:
                return ProviderOutcome.failed(
                    _R.INVALID_REQUEST,
                    code="missing_airtel_money_id",
                    message="an AT Money refund needs the original airtel_money_id",
                )
            path = "/standard/v1/payments/refund"
            body = {"transaction": {"airtel_money_id": request.original_provider_transaction_id}}
        result = await self._call("POST", path, Operation.SUBMIT, body)
        outcome = (
            result if isinstance(result, ProviderOutcome) else submit_outcome(result, request.kind)
        )
        _log.info(
            "airteltigo.submit",
            kind=request.kind.value,
            reference=request.reference,
            msisdn=request.msisdn.masked,
            outcome=outcome.kind.value,
            code=outcome.provider_code,
        )
        return outcome

    async def status(self, kind: AttemptKind, reference: str) -> ProviderOutcome:
        """Payment or disbursement enquiry by our transaction id."""
        if kind is AttemptKind.REFUND:
            # The Open API has no refund enquiry: the refund call answers synchronously.
            return ProviderOutcome.unknown(
                code="no_refund_enquiry", message="AT Money has no refund status API"
            )
        if kind is AttemptKind.COLLECT:
            path = f"/standard/v1/payments/{reference}"
        else:
            path = f"/standard/v1/disbursements/{reference}?transactionType=B2C"
        result = await self._call("GET", path, Operation.STATUS)
        if isinstance(result, ProviderOutcome):
            return result
        return status_outcome(result)

    async def lookup(self, msisdn: Msisdn) -> AccountInfo:
        """KYC lookup (`GET /standard/v1/users/{msisdn}`): registered, not barred, and the name."""
        result = await self._call("GET", f"/standard/v1/users/{msisdn.nsn}", Operation.STATUS)
        if isinstance(result, ProviderOutcome):
            raise LookupUnavailable(f"AT Money lookup failed ({result.provider_code})")
        body = json_object(result)
        _codes, _message, success = envelope_codes(body)
        if result.status_code == 404 or (result.status_code == 200 and success is False):
            return AccountInfo(ProviderId.AIRTELTIGO, msisdn, active=False)
        if result.status_code != 200 or body is None or success is not True:
            raise LookupUnavailable(f"AT Money lookup answered HTTP {result.status_code}")
        data = as_dict(body.get("data"))
        barred = data.get("is_barred")
        active = not (barred is True or text(barred) == "true")
        parts = [text(data.get("first_name")), text(data.get("last_name"))]
        name = " ".join(p for p in parts if p) or None
        return AccountInfo(ProviderId.AIRTELTIGO, msisdn, active=active, name=name)


def _configured_key(text: str) -> EncryptionKey | None:
    """AIRTELTIGO_RSA_PUBLIC_KEY as a key (None when empty; SettingsError when unreadable)."""
    if not text.strip():
        return None
    try:
        return EncryptionKey("configured", load_public_key(text))
    except KeyUnusable as exc:
        raise SettingsError(f"AIRTELTIGO_RSA_PUBLIC_KEY: {exc}") from None


def _key_in(response: httpx.Response) -> EncryptionKey:
    """The key an encryption-keys answer carries (KeyUnusable otherwise)."""
    body = json_object(response)
    if response.status_code != 200 or body is None:
        raise KeyUnusable(f"HTTP {response.status_code}")
    return key_from_answer(as_dict(body.get("data")))


def _key_lifetime(key: EncryptionKey) -> float:
    """How long to use a fetched key: until a minute before `valid_upto`, within 5 min .. 1 day.

    A `valid_upto` already past by our clock (skew) still gets 5 minutes: a key Airtel
    no longer takes is refused, and a refusal fetches a new one at once.
    """
    if key.valid_upto is None:
        return _KEY_MAX_AGE
    left = (key.valid_upto - datetime.now(UTC)).total_seconds() - 60.0
    return max(300.0, min(_KEY_MAX_AGE, left))


def _key_refused(response: httpx.Response) -> bool:
    """The answer refuses our signature or encrypted PIN (Forbidden / Incorrect Encrypted Pin)."""
    codes, _message, _success = envelope_codes(json_object(response))
    return any(code in _KEY_REFUSED for code in codes)


def _token_rejected(response: httpx.Response) -> bool:
    """401, or the gateway's 403 `invalid_token` (expired or revoked token)."""
    if response.status_code == 401:
        return True
    if response.status_code == 403:
        body = json_object(response) or {}
        return text(body.get("error")) == "invalid_token"
    return False


def _alnum(value: str) -> str:
    """Airtel references are 4-64 alphanumerics."""
    return _NOT_ALNUM.sub("", value)[:64]
