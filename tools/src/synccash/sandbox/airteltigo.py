"""AT Money sandbox, modelled on the Airtel Money Open API (reference section 2).

AT Money publishes no merchant API; like SyncCash's client, this sandbox
speaks the Airtel Money Open API shape with ``X-Country: GH`` and
``X-Currency: GHS``:

- ``POST /auth/oauth2/token`` with JSON ``{client_id, client_secret,
  grant_type: "client_credentials"}`` -> ``{"access_token", "expires_in": "180",
  "token_type": "bearer"}`` (``expires_in`` a string, as in Airtel's docs). Bad
  credentials -> 401 ``{"error_description":"Invalid client authentication",
  "error":"invalid_client"}``.
- Business calls: ``Authorization: Bearer``, ``X-Country``, ``X-Currency``. A bad or
  expired token -> 403 ``{"error":"invalid_token",…}`` (missing header: 401 with the
  same body); a missing/unknown ``X-Country`` -> 400 ``{"status_code":"ROUTER110",…}``.
- Every answer is the ``{data, status{code, message, result_code, response_code,
  success}}`` envelope; business errors come as HTTP 200 with ``success: false``.
- ``POST /merchant/v1/payments/`` (and ``/merchant/v2/payments/``): USSD push.
  Accepted -> ``data.transaction{id: false, status: "SUCCESS"}`` with
  ``response_code DP00800001006`` (in process). ``subscriber.msisdn`` is the 9-digit
  national number. ``transaction.id`` is the partner's unique id (our idempotency
  key); ``amount`` a JSON number with at most 2 decimals.
- ``GET /standard/v1/payments/{id}``: ``data.transaction{airtel_money_id, id, message,
  status}`` with status TS / TF / TA / TIP / TE and a DP code saying why.
- ``POST /standard/v1/payments/refund`` ``{"transaction":{"airtel_money_id"}}``: full
  refunds only, answered synchronously (``status: "SUCCESS"``).
- ``POST /standard/v1/disbursements/`` (and v2): ``{payee{msisdn, currency},
  reference, pin?, transaction{amount, id, type: "B2C"}}``, answered synchronously
  with ``data.transaction{reference_id, airtel_money_id, id, status}``; enquiry
  ``GET /standard/v{1,2}/disbursements/{id}`` (``?transactionType=B2C`` accepted).
- ``GET /standard/v1/users/{msisdn}`` (KYC: names, ``is_barred``) and
  ``GET /standard/v1/users/balance`` (the merchant float).
- Callback (per application in Airtel, so option ``callback_url``; this sandbox also
  honours a per-request ``X-Callback-Url`` header as an extension): POST
  ``{"transaction":{"id","message","status_code":"TS"|"TF","airtel_money_id"}}``;
  with option ``callback_secret`` set (Airtel's "callback authentication"), a top-level
  ``"hash"`` = Base64 HMAC-SHA256(secret, the compact JSON of the ``transaction``
  object), as Airtel documents it.
- Security (``_airtel_security``), as Airtel documents it: ``GET /v1/rsa/encryption-keys``
  issues the sandbox's 1024-bit RSA public key (``keys_of(sandbox).rotate(now)`` issues
  a new one; the old one is refused from then on). Every POST with a body (payments,
  disbursements, refunds) must be signed (``x-signature`` = AES-256-CBC of the body,
  ``x-key`` = the RSA-encrypted ``key:iv``) while option ``require_signature`` is on
  (default); a signature that does not decrypt to the body -> ``DP00800001026`` /
  ``DP00900001016`` "Forbidden". Disbursements need the RSA-encrypted ``pin`` while
  ``require_pin`` is on (default): missing -> ``DP00900001005`` "PIN is required";
  not decryptable with the current key -> 400 ``ROUTER116`` "Incorrect Encrypted Pin";
  another PIN than ``credentials["pin"]`` (default ``1234``) -> 400 ``ROUTER115``.
  AT Money publishes no API: that it secures calls like Airtel is an assumption.

Choices where the reference is silent (not Airtel facts):

- Reason -> (status, DP code): rejected TF DP00800001008; expired TE DP00800001029;
  not enough balance TF DP00800001007; limit TF DP00800001003; payer not found TF
  DP00800001025; not allowed TF DP00800001009; internal error **TA DP00800001000
  (stays ambiguous, nothing moves, no callback)**; disbursements use the DP009 codes.
- A reused ``transaction.id``: payments -> HTTP 200 ``success:false``
  ``ESB000001`` "Duplicate transaction id" (query the enquiry for the real state);
  disbursements -> ``DP00900001017``. Nothing happens twice.
- An enquiry for an id never accepted -> HTTP 200 ``success:false`` code "404" with
  ``DP00800001025`` (payments) / ``DP00900001015`` (disbursements).
- The "service unavailable" test numbers -> HTTP 503 envelope ``ESB000001``, nothing
  recorded. A repeated refund of the same ``airtel_money_id`` answers the first
  refund's result again (money moves once).
- ``subscriber``/``transaction`` ``country``/``currency`` other than the headers' GH/GHS
  -> ``ESB000034``/``ESB000035``; a ``msisdn`` that is not 9 digits -> ``ESB000033``.
- Injected faults: 500/503 envelopes with ``ESB000001``; 429 ``{"error":"rate_limited"}``
  with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Final

from synccash.sandbox._airtel_security import (
    AirtelKeys,
    Refused,
    callback_hash,
    decrypt_pin,
    signed_body,
)
from synccash.sandbox._app import SandboxApp
from synccash.sandbox._asgi import Request, Response, Router
from synccash.sandbox._money import to_cedis, to_minor
from synccash.sandbox._numbers import canonical, nsn
from synccash.sandbox._sandbox import Attempt, Callback, ProviderSandbox, SandboxConfig
from synccash.sandbox._world import SandboxWorld

#: Accepted credentials by default: the defaults of synccash.adapters.settings.
DEFAULT_CREDENTIALS: Final[dict[str, str]] = {
    "client_id": "synccash-at-client",
    "client_secret": "synccash-at-secret",
    "pin": "1234",
}

DEFAULT_OPTIONS: Final[dict[str, Any]] = {
    "country": "GH",
    "currency": "GHS",
    "token_ttl_seconds": 180,
    "callback_url": None,
    "callback_secret": None,
    "require_pin": True,
    "require_signature": True,
}

_COLLECTION_CODES: Final[dict[str, tuple[str, str, str]]] = {
    "APPROVAL_REJECTED": ("TF", "DP00800001008", "Transaction refused by the subscriber"),
    "EXPIRED": ("TE", "DP00800001029", "Transaction expired"),
    "NOT_ENOUGH_FUNDS": ("TF", "DP00800001007", "Not enough balance"),
    "PAYER_LIMIT_REACHED": ("TF", "DP00800001003", "Transaction limit exceeded"),
    "PAYER_NOT_FOUND": ("TF", "DP00800001025", "Subscriber not found"),
    "INTERNAL_PROCESSING_ERROR": ("TA", "DP00800001000", "Transaction is ambiguous"),
}
_DISBURSEMENT_CODES: Final[dict[str, tuple[str, str, str]]] = {
    "NOT_ENOUGH_FUNDS": ("TF", "DP00900001007", "Insufficient funds"),
    "PAYER_LIMIT_REACHED": ("TF", "DP00900001003", "Maximum transaction limit reached"),
    "PAYEE_NOT_FOUND": ("TF", "DP00900001012", "Invalid mobile number"),
    "NOT_ALLOWED": ("TF", "DP00900001010", "User is not allowed to transact"),
    "INTERNAL_PROCESSING_ERROR": ("TA", "DP00900001000", "Transaction is ambiguous"),
}


def default_config() -> SandboxConfig:
    """The AT sandbox configuration with the settings.py default credentials."""
    return SandboxConfig(credentials=dict(DEFAULT_CREDENTIALS), options=dict(DEFAULT_OPTIONS))


def create_sandbox(world: SandboxWorld | None = None, **kwargs: Any) -> ProviderSandbox:
    """A ProviderSandbox for AT Money with its default configuration."""
    kwargs.setdefault("config", default_config())
    return ProviderSandbox("airteltigo", world, **kwargs)


def keys_of(sandbox: ProviderSandbox) -> AirtelKeys:
    """The AT sandbox's RSA keys (kept across ``reset()``, like a provider's own key)."""
    keys = sandbox.state.setdefault("airtel_keys", AirtelKeys())
    assert isinstance(keys, AirtelKeys)  # noqa: S101 - only this module stores it
    return keys


def envelope(
    data: Any,
    *,
    status: int = 200,
    code: str = "200",
    message: str = "SUCCESS",
    result_code: str = "ESB000010",
    response_code: str | None = None,
    success: bool = True,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """Airtel's ``{data, status}`` answer."""
    meta: dict[str, Any] = {"code": code, "message": message, "result_code": result_code}
    if response_code is not None:
        meta["response_code"] = response_code
    meta["success"] = success
    return Response.json(status, {"data": data, "status": meta}, headers)


def _business_error(message: str, response_code: str, code: str = "400") -> Response:
    result = response_code if response_code.startswith("ESB") else "ESB000001"
    return envelope(
        {},
        code=code,
        message=message,
        result_code=result,
        response_code=response_code,
        success=False,
    )


class _Wire:
    def server_error(self, status: int) -> Response:
        return envelope(
            {},
            status=status,
            code=str(status),
            message="Internal Server Error",
            result_code="ESB000001",
            response_code="ESB000001",
            success=False,
        )

    def rate_limited(self, retry_after: int) -> Response:
        return Response.json(
            429,
            {"error": "rate_limited", "error_description": "Too many requests"},
            (("retry-after", str(retry_after)),),
        )

    def unavailable(self) -> Response:
        return self.server_error(503)

    def forbidden(self) -> Response:
        return Response.json(403, {"error": "forbidden", "error_description": "IP not allowed"})

    def no_route(self, status: int) -> Response:
        return Response.json(status, {"status_code": "ROUTER404", "status_message": "Not Found"})


class _Airtel:
    def __init__(self, sandbox: ProviderSandbox) -> None:
        self.sandbox = sandbox

    @property
    def options(self) -> dict[str, Any]:
        return {**DEFAULT_OPTIONS, **self.sandbox.config.options}

    def cred(self, name: str) -> str:
        return self.sandbox.config.credentials.get(name, DEFAULT_CREDENTIALS[name])

    async def token(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            body = {}
        if (
            not isinstance(body, dict)
            or body.get("grant_type") != "client_credentials"
            or body.get("client_id") != self.cred("client_id")
            or body.get("client_secret") != self.cred("client_secret")
        ):
            return Response.json(
                401,
                {"error_description": "Invalid client authentication", "error": "invalid_client"},
            )
        ttl = int(self.options["token_ttl_seconds"])
        token = self.sandbox.tokens.issue("airtel", ttl)
        return Response.json(
            200, {"access_token": token, "expires_in": str(ttl), "token_type": "bearer"}
        )

    def refused(self, request: Request) -> Response | None:
        header = request.headers.get("authorization")
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not self.sandbox.tokens.valid(token.strip(), "airtel"):
            return Response.json(
                401 if header is None else 403,
                {
                    "error_description": "The access token is invalid or has expired",
                    "error": "invalid_token",
                },
            )
        country = request.headers.get("x-country")
        if country != self.options["country"]:
            return Response.json(
                400,
                {
                    "status_message": f"Partner {country or ''} not found",
                    "status_code": "ROUTER110",
                },
            )
        if request.headers.get("x-currency") != self.options["currency"]:
            return _business_error("Currency not supported", "ESB000035")
        return None

    # -- security -------------------------------------------------------------------------

    async def encryption_keys(self, request: Request) -> Response:
        refused = self.refused(request)
        if refused is not None:
            return refused
        key = keys_of(self.sandbox).key(self.sandbox.now())
        data = {
            "key_id": key.key_id,
            "key": key.public_b64(),
            "valid_upto": f"{key.valid_upto:%d-%m-%Y %H:%M:%S}",
        }
        return envelope(data, response_code="DP02010001001")

    def _private(self) -> Any:
        return keys_of(self.sandbox).key(self.sandbox.now()).private

    def unsigned(self, request: Request, forbidden: str) -> Response | None:
        """The refusal of a POST whose x-signature / x-key are missing or do not match."""
        signature, key = request.headers.get("x-signature"), request.headers.get("x-key")
        if not signature or not key:
            if not self.options["require_signature"]:
                return None
            return _business_error("Forbidden: message signature required", forbidden, "403")
        try:
            matches = signed_body(self._private(), signature, key) == request.json()
        except (Refused, ValueError):
            matches = False
        if not matches:
            return _business_error("Forbidden: x-signature mismatch", forbidden, "403")
        return None

    def pin_refused(self, body: dict[str, Any]) -> Response | None:
        """The refusal of a disbursement whose PIN is missing, unreadable or wrong."""
        pin = body.get("pin")
        if not pin:
            if self.options["require_pin"]:
                return _business_error("PIN is required", "DP00900001005")
            return None
        try:
            clear = decrypt_pin(self._private(), str(pin))
        except Refused:
            return _router_error("ROUTER116", "Incorrect Encrypted Pin")
        if not hmac_equal(clear, self.cred("pin")):
            return _router_error("ROUTER115", "Incorrect Pin")
        return None

    # -- collection -----------------------------------------------------------------------

    async def pay(self, request: Request) -> Response:
        refused = self.refused(request) or self.unsigned(request, "DP00800001026")
        if refused is not None:
            return refused
        try:
            body = request.json()
            subscriber, txn = _objects(body["subscriber"], body["transaction"])
            txn_id, msisdn = str(txn["id"]), str(subscriber["msisdn"])
        except (ValueError, KeyError, TypeError):
            return _business_error("Invalid request body", "ESB000008")
        if len(msisdn) != 9 or not msisdn.isdigit():
            return _business_error("Invalid MSISDN length", "ESB000033")
        for part in (subscriber, txn):
            if part.get("country", self.options["country"]) != self.options["country"]:
                return _business_error("Invalid country", "ESB000034")
            if part.get("currency", self.options["currency"]) != self.options["currency"]:
                return _business_error("Invalid currency", "ESB000035")
        amount = to_minor(txn.get("amount"))
        if amount is None or isinstance(txn.get("amount"), str):
            return _business_error("Invalid amount", "DP00800001004")
        if self.sandbox.attempt(txn_id) is not None:
            return _business_error("Duplicate transaction id", "ESB000001")
        key = canonical(msisdn) or msisdn
        if self.sandbox.scenario(key).reject_on_submit:
            return self._unavailable()
        self.sandbox.accept(
            "collection",
            txn_id,
            key,
            amount,
            self.options["currency"],
            provider_txn_id=self.money_id(),
            renderer=self._renderer(request),
            request=body,
        )
        return envelope(
            {"transaction": {"id": False, "status": "SUCCESS"}}, response_code="DP00800001006"
        )

    def money_id(self) -> str:
        now = self.sandbox.now()
        return f"MP{now:%y%m%d}.{now:%H%M}.{self.sandbox.new_txn_id('L')}"

    def state(self, attempt: Attempt) -> tuple[str, str, str]:
        """(status, DP code, message) of an attempt."""
        collection = attempt.kind == "collection"
        if attempt.status == "pending":
            code = "DP00800001006" if collection else "DP00900001006"
            return "TIP", code, "Transaction in progress"
        if attempt.status == "success":
            code = "DP00800001001" if collection else "DP00900001001"
            return "TS", code, "Transaction is successful"
        table = _COLLECTION_CODES if collection else _DISBURSEMENT_CODES
        fallback = (
            ("TF", "DP00800001009", "Do not honor")
            if collection
            else ("TF", "DP00900001005", "Transaction failed")
        )
        return table.get(attempt.reason or "", fallback)

    async def payment_status(self, request: Request) -> Response:
        return self._enquiry(request, "collection", "DP00800001025")

    async def disbursement_status(self, request: Request) -> Response:
        return self._enquiry(request, "disbursement", "DP00900001015")

    def _enquiry(self, request: Request, kind: str, not_found: str) -> Response:
        refused = self.refused(request)
        if refused is not None:
            return refused
        attempt = self.sandbox.attempt(request.params["id"])
        if attempt is None or attempt.kind != kind:
            return _business_error("Transaction not found", not_found, code="404")
        status, code, message = self.state(attempt)
        txn: dict[str, Any] = {
            "airtel_money_id": attempt.provider_txn_id if status == "TS" else None,
            "id": attempt.reference,
            "message": message,
            "status": status,
        }
        if kind == "disbursement":
            txn["reference_id"] = attempt.provider_txn_id
        return envelope({"transaction": txn}, response_code=code)

    def _renderer(self, request: Request) -> Any:
        url = request.headers.get("x-callback-url") or self.options["callback_url"]
        if not url:
            return None
        secret = self.options["callback_secret"]

        def render(attempt: Attempt, stale: bool) -> Callback | None:
            status, _code, message = self.state(attempt)
            if status == "TA":
                return None  # Airtel only calls back with TS or TF.
            status_code = "TIP" if stale else ("TS" if status == "TS" else "TF")
            body: dict[str, Any] = {
                "transaction": {
                    "id": attempt.reference,
                    "message": message,
                    "status_code": status_code,
                    "airtel_money_id": attempt.provider_txn_id,
                }
            }
            if secret:
                body["hash"] = callback_hash(body["transaction"], str(secret))
            payload = json.dumps(body, separators=(",", ":")).encode()
            return Callback("POST", url, {"content-type": "application/json"}, payload)

        return render

    def _unavailable(self) -> Response:
        return envelope(
            {},
            status=503,
            code="503",
            message="Service Unavailable",
            result_code="ESB000001",
            response_code="ESB000001",
            success=False,
        )

    # -- refund ---------------------------------------------------------------------------

    async def refund(self, request: Request) -> Response:
        refused = self.refused(request) or self.unsigned(request, "DP00800001026")
        if refused is not None:
            return refused
        try:
            (txn,) = _objects(request.json()["transaction"])
            money_id = str(txn["airtel_money_id"])
        except (ValueError, KeyError, TypeError):
            return _business_error("Invalid request body", "ESB000008")
        reference = f"refund:{money_id}"
        done = self.sandbox.attempt(reference)
        if done is None:
            original = self.sandbox.by_provider_txn_id(money_id)
            if original is None or original.kind != "collection" or original.status != "success":
                return _business_error("Transaction not found", "DP00800001025")
            done = self.sandbox.accept(
                "refund",
                reference,
                original.msisdn,
                original.amount_minor - original.refunded_minor,
                original.currency,
                provider_txn_id=self.money_id(),
                original_reference=original.reference,
            )
        if done.status != "success":
            return _business_error("Refund not allowed", "DP00800001009")
        return envelope(
            {"transaction": {"airtel_money_id": money_id, "status": "SUCCESS"}},
            response_code="DP00800001001",
        )

    # -- disbursement ---------------------------------------------------------------------

    async def disburse(self, request: Request) -> Response:
        refused = self.refused(request) or self.unsigned(request, "DP00900001016")
        if refused is not None:
            return refused
        try:
            body = request.json()
            payee, txn = _objects(body["payee"], body["transaction"])
            txn_id, msisdn = str(txn["id"]), str(payee["msisdn"])
            reference = str(body["reference"])
        except (ValueError, KeyError, TypeError):
            return _business_error("Invalid request body", "ESB000008")
        pin_refused = self.pin_refused(body)
        if pin_refused is not None:
            return pin_refused
        if len(msisdn) != 9 or not msisdn.isdigit():
            return _business_error("Invalid mobile number", "DP00900001012")
        amount = to_minor(txn.get("amount"))
        if amount is None or not 4 <= len(reference) <= 64 or not reference.isalnum():
            return _business_error("Invalid amount or reference", "DP00900001004")
        if self.sandbox.attempt(txn_id) is not None:
            return _business_error("Duplicate transaction id", "DP00900001017")
        key = canonical(msisdn) or msisdn
        if self.sandbox.scenario(key).reject_on_submit:
            return self._unavailable()
        attempt = self.sandbox.accept(
            "disbursement",
            txn_id,
            key,
            amount,
            self.options["currency"],
            provider_txn_id=self.money_id(),
            renderer=self._renderer(request),
            request=body,
        )
        status, code, message = self.state(attempt)
        data = {
            "transaction": {
                "reference_id": attempt.provider_txn_id,
                "airtel_money_id": attempt.provider_txn_id,
                "id": txn_id,
                "status": status,
                "message": message,
            }
        }
        if status == "TF":
            return envelope(data, code="400", message=message, response_code=code, success=False)
        return envelope(data, response_code=code)

    # -- users ----------------------------------------------------------------------------

    async def user(self, request: Request) -> Response:
        refused = self.refused(request)
        if refused is not None:
            return refused
        number = request.params["msisdn"]
        key = canonical(number) if len(number) == 9 else None
        wallet = self.sandbox.world.on_provider(key, "airteltigo") if key else None
        if wallet is None or self.sandbox.scenario(wallet.msisdn).reason == "PAYER_NOT_FOUND":
            return _business_error("User not found", "DP02200000000", code="404")
        data = {
            "first_name": wallet.given_name,
            "last_name": wallet.family_name,
            "msisdn": nsn(wallet.msisdn),
            "is_barred": self.sandbox.scenario(wallet.msisdn).reason == "NOT_ALLOWED",
            "is_pin_set": True,
            "grade": "SUBS",
            "registration": {"status": "SUBS"},
        }
        return envelope(data, response_code="DP02200000001")

    async def balance(self, request: Request) -> Response:
        refused = self.refused(request)
        if refused is not None:
            return refused
        data = {
            "balance": f"{to_cedis(self.sandbox.config.merchant_balance_minor):.2f}",
            "currency": self.options["currency"],
            "account_status": "ACTIVE",
        }
        return envelope(data, response_code="DP02100000001")


def _router_error(code: str, message: str) -> Response:
    """The gateway's bare router answer (PIN checks happen before the product)."""
    return Response.json(400, {"status_code": code, "status_message": message})


def hmac_equal(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


def _objects(*values: Any) -> tuple[dict[str, Any], ...]:
    """The values, each checked to be a JSON object (TypeError otherwise)."""
    if not all(isinstance(v, dict) for v in values):
        raise TypeError("expected JSON objects")
    return values


def create_app(sandbox: ProviderSandbox | None = None) -> SandboxApp:
    """The AT Money sandbox as an ASGI app (a fresh sandbox and world when none is given)."""
    sandbox = sandbox if sandbox is not None else create_sandbox()
    airtel = _Airtel(sandbox)
    router = Router()
    router.add("POST", "/auth/oauth2/token", airtel.token)
    router.add("GET", "/v1/rsa/encryption-keys", airtel.encryption_keys)
    for version in ("v1", "v2"):
        router.add("POST", f"/merchant/{version}/payments/", airtel.pay)
        router.add("POST", f"/standard/{version}/payments/refund", airtel.refund)
        router.add("GET", f"/standard/{version}/payments/{{id}}", airtel.payment_status)
        router.add("POST", f"/standard/{version}/disbursements/", airtel.disburse)
        router.add("GET", f"/standard/{version}/disbursements/{{id}}", airtel.disbursement_status)
    router.add("GET", "/standard/v1/users/balance", airtel.balance)
    router.add("GET", "/standard/v1/users/{msisdn}", airtel.user)
    return SandboxApp(sandbox, router, _Wire())
