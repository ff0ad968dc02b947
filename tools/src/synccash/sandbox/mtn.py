"""MTN MoMo Open API sandbox (Collection + Disbursement, v1_0).

Paths, headers and bodies follow MTN's Swagger exports and the observed
sandbox behaviour in ``shared/reference/provider-apis.md`` section 1:

- ``POST /{collection|disbursement}/token/``: ``Authorization: Basic user:apikey`` +
  ``Ocp-Apim-Subscription-Key`` (or ``?subscription-key=``); no body (a body -> 400).
  200 ``{"access_token","token_type":"access_token","expires_in":3600}``. A token is
  valid for its own product only.
- Business calls need ``Authorization: Bearer``, ``X-Target-Environment`` and the
  subscription key. POSTs need ``X-Reference-Id`` (UUID v4) and may carry
  ``X-Callback-Url``; they answer ``202`` with an empty body, ``409
  RESOURCE_ALREADY_EXIST`` on a reused reference (nothing happens twice).
- ``GET …/{referenceId}`` answers 404 ``RESOURCE_NOT_FOUND`` for a reference never
  accepted, else 200 with ``status`` PENDING / SUCCESSFUL / FAILED, or CREATED for
  the "delayed" test numbers (undocumented, observed). ``financialTransactionId`` only
  on success; ``reason`` only on failure, a bare string by default (observed) or
  ``{"code","message"}`` with option ``reason_format="object"`` (the Swagger form).
- Duplicate callbacks on by default (observed): every final callback comes again 180 s
  later (``config.duplicate_callback_after_seconds``; None switches it off).
- Production profile (``config.profile = "production"``): requests from client IPs not
  in ``config.allowed_sources`` get 403; a non-https ``X-Callback-Url`` is refused with
  400 ``INVALID_CALLBACK_URL_HOST`` (MTN calls back over HTTPS only).
- Callback delivery as MTN documents it now (``MTN_CALLBACK_RETRIES``): a receiver must
  answer 2xx within 2 s, else the callback is sent again 20 times 1 s apart, then 30
  times 2 min apart, then hourly; ``config.callback_retries`` with
  ``block_slow_receivers=True`` holds a slow receiver's other callbacks meanwhile
  (``sandbox.blocked_hosts``; every try is in ``sandbox.deliveries``).
- Callbacks (only when ``X-Callback-Url`` was given): POST by default (option
  ``callback_method``), ``User-Agent: LWAC Http Client 1.0``, no auth header, body =
  the status resource (it never contains the reference id).

- Sandbox user provisioning: ``POST /v1_0/apiuser`` (``X-Reference-Id`` = the new user
  id, body ``{"providerCallbackHost"}``) -> 201; ``POST /v1_0/apiuser/{id}/apikey`` ->
  201 ``{"apiKey"}``; ``GET /v1_0/apiuser/{id}`` -> ``{"providerCallbackHost",
  "targetEnvironment"}``; either product's subscription key works. Provisioned users
  can get tokens for both products, besides the configured credentials.

Choices where the reference is silent (documented here, not MTN facts):

- Gateway 401s use the Azure APIM shape ``{"statusCode":401,"message":…}`` for a
  missing/invalid subscription key and for a missing/invalid/expired bearer token; a
  wrong API user/key on the token call gives 401 ``{"error":"invalid_client"}``.
- Other 400s carry ``{"code":"BAD_REQUEST","message":<why>}`` (MTN's 400 bodies vary).
- ``X-Target-Environment`` missing -> 400; different from option
  ``target_environment`` -> 500 ``NOT_ALLOWED_TARGET_ENVIRONMENT``.
- Currency: ``sandbox`` accepts EUR and, unless option ``strict_currency`` is set,
  GHS too (so the embedded default works); other environments accept GHS. A refused
  currency -> 500 ``INVALID_CURRENCY``. Amounts are decimal strings with at most 2
  decimals, booked 1:1 as minor units whatever the currency.
- ``payerMessage``/``payeeNote`` over 160 characters or containing ``'`` -> 400.
- An MSISDN ``partyId`` must carry the country code (``233…``, or a foreign/test
  number); a national ``0…`` or bare 9-digit number is accepted and ends FAILED
  ``PAYER_NOT_FOUND`` (``PAYEE_NOT_FOUND`` for transfers). A GET with a reference that is
  not a UUID v4 -> 400.
- The "service unavailable" test numbers are refused at submit: 503
  ``SERVICE_UNAVAILABLE`` and nothing recorded (the status GET then answers 404).
- ``basicuserinfo`` for a number not on MTN -> 404 ``RESOURCE_NOT_FOUND``; ``active``
  -> ``{"result": false}``.
- Refunds (``POST /disbursement/v1_0/refund``) settle at once, from the merchant float,
  back to the original payer; a refund of an unknown/unsuccessful collection or beyond
  what is left of it ends FAILED with reason ``NOT_ALLOWED``.
- One merchant float per sandbox serves both products' ``account/balance``.
- Option ``require_content_length`` (off by default): a body-less POST without a
  ``Content-Length`` header gets MTN's HTML ``411 Length Required``.
- Callback URLs may be plain http and IP hosts (MTN demands HTTPS on 443 and a domain;
  the sandbox runs next to its client).
- Option ``callback_host`` (the API user's ``providerCallbackHost``; None = any): a
  collection/transfer whose ``X-Callback-Url`` is on another host is accepted and ends
  FAILED ``INVALID_CALLBACK_URL_HOST`` with no callback.
- Option ``new_platform`` (momoapi.momo.africa behaviour): the token call needs
  ``X-Target-Environment`` (else 400 ``{"error":"Invalid or missing X-Target-Environment
  header"}``) and any ``User-Agent`` containing ``python-requests`` gets 403.
- Options are read per request: change ``sandbox.config.options`` (or PUT
  ``/_admin/config`` ``{"options": {...}}``) at any time.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from typing import Any, Final
from urllib.parse import urlparse

from synccash.sandbox._app import SandboxApp
from synccash.sandbox._asgi import Request, Response, Router
from synccash.sandbox._money import to_decimal_string, to_minor
from synccash.sandbox._numbers import canonical
from synccash.sandbox._sandbox import (
    MTN_CALLBACK_RETRIES,
    Attempt,
    Callback,
    ProviderSandbox,
    SandboxConfig,
)
from synccash.sandbox._world import SandboxWorld

#: Accepted credentials by default: the defaults of synccash.adapters.settings.
DEFAULT_CREDENTIALS: Final[dict[str, str]] = {
    "collection_user_id": "synccash-collection-user",
    "collection_api_key": "synccash-collection-key",
    "collection_subscription_key": "synccash-collection-subscription",
    "disbursement_user_id": "synccash-disbursement-user",
    "disbursement_api_key": "synccash-disbursement-key",
    "disbursement_subscription_key": "synccash-disbursement-subscription",
}

DEFAULT_OPTIONS: Final[dict[str, Any]] = {
    "target_environment": "sandbox",
    "token_ttl_seconds": 3600,
    "reason_format": "string",
    "callback_method": "POST",
    "require_content_length": False,
    "strict_currency": False,
    "callback_host": None,
    "new_platform": False,
}

REASON_MESSAGES: Final[dict[str, str]] = {
    "PAYER_NOT_FOUND": "Payer does not exist",
    "PAYEE_NOT_FOUND": "Payee does not exist",
    "NOT_ENOUGH_FUNDS": "The payer does not have enough funds.",
    "PAYER_LIMIT_REACHED": "The payer's limit has been breached.",
    "APPROVAL_REJECTED": "The payer rejected the request.",
    "EXPIRED": "The request expired before the payer approved it.",
    "NOT_ALLOWED": "Authorization to perform the operation is not granted.",
    "INTERNAL_PROCESSING_ERROR": "An internal error occurred while processing.",
    "SERVICE_UNAVAILABLE": "Service unavailable.",
}

_PRODUCTS: Final = ("collection", "disbursement")
_MISSING_KEY = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
_INVALID_KEY = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
_INVALID_TOKEN = "Access denied due to invalid or expired access token."  # noqa: S105 - a message
_HTML_411 = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
    b"<HTML><HEAD><TITLE>Length Required</TITLE></HEAD><BODY><h2>Length Required</h2>"
    b"<hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>"
    b"</BODY></HTML>"
)


def default_config() -> SandboxConfig:
    """The MTN sandbox configuration with the settings.py default credentials."""
    return SandboxConfig(
        credentials=dict(DEFAULT_CREDENTIALS),
        options=dict(DEFAULT_OPTIONS),
        callback_retries=MTN_CALLBACK_RETRIES,
        # Observed: the same callback body again about 3 minutes after a 200 ack.
        duplicate_callback_after_seconds=180.0,
    )


def create_sandbox(world: SandboxWorld | None = None, **kwargs: Any) -> ProviderSandbox:
    """A ProviderSandbox for MTN with its default configuration (kwargs go to ProviderSandbox)."""
    kwargs.setdefault("config", default_config())
    return ProviderSandbox("mtn", world, **kwargs)


def _error(status: int, code: str, message: str | None = None) -> Response:
    return Response.json(
        status, {"code": code, "message": message or REASON_MESSAGES.get(code, code)}
    )


def _apim(status: int, message: str) -> Response:
    return Response.json(status, {"statusCode": status, "message": message})


class _Wire:
    """MTN's error shapes for injected faults and unknown routes."""

    def server_error(self, status: int) -> Response:
        if status == 503:
            return self.unavailable()
        return _error(status, "INTERNAL_PROCESSING_ERROR")

    def rate_limited(self, retry_after: int) -> Response:
        return Response.json(
            429,
            {
                "statusCode": 429,
                "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
            },
            (("retry-after", str(retry_after)),),
        )

    def unavailable(self) -> Response:
        return _error(503, "SERVICE_UNAVAILABLE")

    def forbidden(self) -> Response:
        return _apim(403, "IP not authorized to utilize this API")

    def no_route(self, status: int) -> Response:
        return (
            _apim(404, "Resource not found") if status == 404 else _apim(405, "Method not allowed")
        )


class _Mtn:
    def __init__(self, sandbox: ProviderSandbox) -> None:
        self.sandbox = sandbox
        #: API users created through the provisioning API: id -> {providerCallbackHost, apiKey}.
        self.users: dict[str, dict[str, str]] = {}

    # -- sandbox user provisioning (sandbox-user-provisioning.json) ------------------------

    def any_subscription_error(self, request: Request) -> Response | None:
        refusals = [self.subscription_error(request, product) for product in _PRODUCTS]
        return None if any(r is None for r in refusals) else refusals[0]

    async def create_user(self, request: Request) -> Response:
        refused = self.any_subscription_error(request)
        if refused is not None:
            return refused
        reference = request.headers.get("x-reference-id", "")
        try:
            host = request.json()["providerCallbackHost"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", "providerCallbackHost is required.")
        if not _is_uuid4(reference):
            return _error(400, "BAD_REQUEST", "X-Reference-Id must be a UUID version 4.")
        if reference in self.users:
            return _error(
                409,
                "RESOURCE_ALREADY_EXIST",
                "Duplicated reference id. Creation of resource failed.",
            )
        self.users[reference] = {"providerCallbackHost": str(host)}
        return Response.empty(201)

    async def create_api_key(self, request: Request) -> Response:
        refused = self.any_subscription_error(request)
        if refused is not None:
            return refused
        if self.options["require_content_length"] and "content-length" not in request.headers:
            return Response(411, _HTML_411, (("content-type", "text/html; charset=us-ascii"),))
        user = self.users.get(request.params["user"])
        if user is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        user["apiKey"] = secrets.token_hex(16)
        return Response.json(201, {"apiKey": user["apiKey"]})

    async def get_user(self, request: Request) -> Response:
        refused = self.any_subscription_error(request)
        if refused is not None:
            return refused
        user = self.users.get(request.params["user"])
        if user is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return Response.json(
            200,
            {
                "providerCallbackHost": user["providerCallbackHost"],
                "targetEnvironment": self.options["target_environment"],
            },
        )

    @property
    def options(self) -> dict[str, Any]:
        return {**DEFAULT_OPTIONS, **self.sandbox.config.options}

    def cred(self, product: str, name: str) -> str:
        key = f"{product}_{name}"
        return self.sandbox.config.credentials.get(key, DEFAULT_CREDENTIALS[key])

    # -- gateway checks -------------------------------------------------------------------

    def subscription_error(self, request: Request, product: str) -> Response | None:
        if self.options["new_platform"] and "python-requests" in request.headers.get(
            "user-agent", ""
        ):
            return Response.json(403, {"statusCode": 403, "message": "Forbidden"})
        key = request.headers.get("ocp-apim-subscription-key") or request.query.get(
            "subscription-key"
        )
        if not key:
            return _apim(401, _MISSING_KEY)
        if key != self.cred(product, "subscription_key"):
            return _apim(401, _INVALID_KEY)
        return None

    def business_error(self, request: Request, product: str) -> Response | None:
        refused = self.subscription_error(request, product)
        if refused is not None:
            return refused
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.sandbox.tokens.valid(token.strip(), product):
            return _apim(401, _INVALID_TOKEN)
        environment = request.headers.get("x-target-environment")
        if not environment:
            return _error(400, "BAD_REQUEST", "X-Target-Environment header is required.")
        if environment != self.options["target_environment"]:
            return _error(
                500, "NOT_ALLOWED_TARGET_ENVIRONMENT", "Access to target environment is forbidden."
            )
        return None

    # -- token ----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        product = request.params["product"]
        refused = self.subscription_error(request, product)
        if refused is not None:
            return refused
        if self.options["require_content_length"] and "content-length" not in request.headers:
            return Response(411, _HTML_411, (("content-type", "text/html; charset=us-ascii"),))
        if request.body:
            return _error(400, "BAD_REQUEST", "This operation takes no request body.")
        if self.options["new_platform"] and not request.headers.get("x-target-environment"):
            return Response.json(400, {"error": "Invalid or missing X-Target-Environment header"})
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, key = "", ""
        configured = (self.cred(product, "user_id"), self.cred(product, "api_key"))
        provisioned = self.users.get(user, {}).get("apiKey")
        valid = (user, key) == configured or (provisioned is not None and key == provisioned)
        if scheme.lower() != "basic" or not valid:
            return Response.json(401, {"error": "invalid_client"})
        ttl = int(self.options["token_ttl_seconds"])
        token = self.sandbox.tokens.issue(product, ttl)
        return Response.json(
            200, {"access_token": token, "token_type": "access_token", "expires_in": ttl}
        )

    # -- submit ---------------------------------------------------------------------------

    def allowed_currencies(self) -> set[str]:
        environment = self.options["target_environment"]
        native = "EUR" if environment == "sandbox" else "GHS"
        return {native} if self.options["strict_currency"] else {native, "GHS"}

    async def submit(self, request: Request, product: str, kind: str) -> Response:
        refused = self.business_error(request, product)
        if refused is not None:
            return refused
        reference = request.headers.get("x-reference-id", "")
        if not _is_uuid4(reference):
            return _error(400, "BAD_REQUEST", "X-Reference-Id must be a UUID version 4.")
        callback_url = request.headers.get("x-callback-url")
        if callback_url is not None and urlparse(callback_url).scheme not in ("http", "https"):
            return _error(400, "BAD_REQUEST", "X-Callback-Url is not a valid URL.")
        if (
            callback_url is not None
            and self.sandbox.config.production
            and urlparse(callback_url).scheme != "https"
        ):
            # MTN production calls back over HTTPS on 443 only.
            return _error(400, "INVALID_CALLBACK_URL_HOST", "Callback URL must be HTTPS.")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "BAD_REQUEST", "The request body is not valid JSON.")
        problem = _validate_body(body, kind)
        if problem:
            return _error(400, "BAD_REQUEST", problem)
        if body["currency"] not in self.allowed_currencies():
            return _error(500, "INVALID_CURRENCY", "Currency not supported.")
        if self.sandbox.attempt(reference) is not None:
            return _error(
                409,
                "RESOURCE_ALREADY_EXIST",
                "Duplicated reference id. Creation of resource failed.",
            )
        return self._accept(kind, reference, body, callback_url)

    def _accept(
        self, kind: str, reference: str, body: dict[str, Any], callback_url: str | None
    ) -> Response:
        amount = to_minor(body["amount"]) or 0
        renderer = self._renderer(callback_url) if callback_url else None
        allowed_host = self.options["callback_host"]
        wrong_host = bool(
            callback_url and allowed_host and urlparse(callback_url).hostname != allowed_host
        )
        if kind == "refund":
            original = self.sandbox.attempt(body["referenceIdToRefund"])
            msisdn = original.msisdn if original is not None else ""
            self.sandbox.accept(
                "refund",
                reference,
                msisdn,
                amount,
                body["currency"],
                provider_txn_id=self.sandbox.new_txn_id(),
                renderer=renderer,
                request=body,
                original_reference=body["referenceIdToRefund"],
            )
            return Response.empty(202)
        party = body["payer" if kind == "collection" else "payee"]
        msisdn = str(party["partyId"]) if party["partyIdType"] == "MSISDN" else ""
        if self.sandbox.scenario(msisdn).reject_on_submit:
            return _error(503, "SERVICE_UNAVAILABLE")
        forced = "INVALID_CALLBACK_URL_HOST" if wrong_host else None
        if msisdn.startswith("0") or len(msisdn) <= 9:
            # A national number without the country code reaches no wallet at MTN.
            forced = "PAYER_NOT_FOUND" if kind == "collection" else "PAYEE_NOT_FOUND"
        self.sandbox.accept(
            "collection" if kind == "collection" else "disbursement",
            reference,
            msisdn or f"{party['partyIdType']}:{party['partyId']}",
            amount,
            body["currency"],
            provider_txn_id=self.sandbox.new_txn_id(),
            renderer=None if wrong_host else renderer,
            request=body,
            forced_reason=forced,
        )
        return Response.empty(202)

    # -- status ---------------------------------------------------------------------------

    def resource(self, attempt: Attempt, *, stale: bool = False) -> dict[str, Any]:
        body = attempt.request
        data: dict[str, Any] = {
            "amount": body.get("amount"),
            "currency": body.get("currency"),
            "externalId": body.get("externalId"),
        }
        if attempt.kind == "collection":
            data["payer"] = body.get("payer")
        elif attempt.kind == "disbursement":
            data["payee"] = body.get("payee")
        else:
            data["payee"] = {"partyIdType": "MSISDN", "partyId": attempt.msisdn}
        data["payerMessage"] = body.get("payerMessage")
        data["payeeNote"] = body.get("payeeNote")
        data = {k: v for k, v in data.items() if v is not None}
        if stale or attempt.status == "pending":
            data["status"] = (
                "CREATED" if attempt.scenario.stays_created and not stale else "PENDING"
            )
        elif attempt.status == "success":
            data["financialTransactionId"] = attempt.provider_txn_id
            data["status"] = "SUCCESSFUL"
        else:
            data["status"] = "FAILED"
            code = attempt.reason or "INTERNAL_PROCESSING_ERROR"
            data["reason"] = (
                {"code": code, "message": REASON_MESSAGES.get(code, code)}
                if self.options["reason_format"] == "object"
                else code
            )
        return data

    async def status(self, request: Request, product: str, kind: str) -> Response:
        refused = self.business_error(request, product)
        if refused is not None:
            return refused
        if not _is_uuid4(request.params["reference"]):
            return _error(400, "BAD_REQUEST", "The reference id must be a UUID version 4.")
        attempt = self.sandbox.attempt(request.params["reference"])
        if attempt is None or attempt.kind != kind:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return Response.json(200, self.resource(attempt))

    def _renderer(self, url: str) -> Any:
        def render(attempt: Attempt, stale: bool) -> Callback:
            body = json.dumps(self.resource(attempt, stale=stale), separators=(",", ":"))
            return Callback(
                str(self.options["callback_method"]),
                url,
                {
                    "user-agent": "LWAC Http Client 1.0",
                    "content-type": "application/json; charset=utf-8",
                },
                body.encode(),
            )

        return render

    # -- account holder and balance -------------------------------------------------------

    async def active(self, request: Request) -> Response:
        refused = self.business_error(request, request.params["product"])
        if refused is not None:
            return refused
        wallet = self._holder(request)
        return Response.json(200, {"result": wallet is not None})

    async def basic_user_info(self, request: Request) -> Response:
        refused = self.business_error(request, request.params["product"])
        if refused is not None:
            return refused
        wallet = self._holder(request)
        if wallet is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return Response.json(
            200,
            {
                "given_name": wallet.given_name,
                "family_name": wallet.family_name,
                "birthdate": "1990-01-01",
                "locale": "en",
                "gender": "",
                "status": "ACTIVE",
            },
        )

    def _holder(self, request: Request) -> Any:
        if request.params["type"].lower() != "msisdn":
            return None
        number = request.params["holder"]
        key = canonical(number)
        if key is None or self.sandbox.scenario(key).reason == "PAYER_NOT_FOUND":
            return None
        return self.sandbox.world.on_provider(key, "mtn")

    async def balance(self, request: Request) -> Response:
        refused = self.business_error(request, request.params["product"])
        if refused is not None:
            return refused
        native = "EUR" if self.options["target_environment"] == "sandbox" else "GHS"
        currency = request.params.get("currency", native)
        available = to_decimal_string(self.sandbox.config.merchant_balance_minor)
        return Response.json(200, {"availableBalance": available, "currency": currency})


def _is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


def _validate_body(body: Any, kind: str) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("amount"), str) or to_minor(body["amount"]) is None:
        return "amount must be a positive decimal string with at most 2 decimals."
    if not isinstance(body.get("currency"), str):
        return "currency is required."
    for note in ("payerMessage", "payeeNote"):
        text = body.get(note)
        if text is not None and (not isinstance(text, str) or len(text) > 160 or "'" in text):
            return f"{note} must be at most 160 characters without special characters."
    if kind == "refund":
        ref = body.get("referenceIdToRefund")
        try:
            uuid.UUID(str(ref))
        except ValueError:
            return "referenceIdToRefund must be the X-Reference-Id of a request to pay."
        return None
    party = body.get("payer" if kind == "collection" else "payee")
    if (
        not isinstance(party, dict)
        or party.get("partyIdType") not in ("MSISDN", "EMAIL", "PARTY_CODE")
        or not isinstance(party.get("partyId"), str)
        or not party["partyId"]
    ):
        return "payer/payee must be {partyIdType: MSISDN|EMAIL|PARTY_CODE, partyId: string}."
    if party["partyIdType"] == "MSISDN" and not party["partyId"].isdigit():
        return "An MSISDN partyId is digits only, with the country code and no '+'."
    return None


def create_app(sandbox: ProviderSandbox | None = None) -> SandboxApp:
    """The MTN MoMo sandbox as an ASGI app (a fresh sandbox and world when none is given)."""
    sandbox = sandbox if sandbox is not None else create_sandbox()
    mtn = _Mtn(sandbox)
    router = Router()
    router.add("POST", "/{product}/token/", _only_products(mtn.token))
    router.add("POST", "/v1_0/apiuser", mtn.create_user)
    router.add("POST", "/v1_0/apiuser/{user}/apikey", mtn.create_api_key)
    router.add("GET", "/v1_0/apiuser/{user}", mtn.get_user)

    def bind(fn: Any, product: str, kind: str) -> Any:
        async def handler(request: Request) -> Response:
            return await fn(request, product, kind)  # type: ignore[no-any-return]

        return handler

    router.add(
        "POST", "/collection/v1_0/requesttopay", bind(mtn.submit, "collection", "collection")
    )
    router.add(
        "GET",
        "/collection/v1_0/requesttopay/{reference}",
        bind(mtn.status, "collection", "collection"),
    )
    for path in ("transfer", "deposit"):
        router.add(
            "POST", f"/disbursement/v1_0/{path}", bind(mtn.submit, "disbursement", "disbursement")
        )
        router.add(
            "GET",
            f"/disbursement/v1_0/{path}/{{reference}}",
            bind(mtn.status, "disbursement", "disbursement"),
        )
    router.add("POST", "/disbursement/v1_0/refund", bind(mtn.submit, "disbursement", "refund"))
    router.add(
        "GET", "/disbursement/v1_0/refund/{reference}", bind(mtn.status, "disbursement", "refund")
    )
    router.add(
        "GET", "/{product}/v1_0/accountholder/{type}/{holder}/active", _only_products(mtn.active)
    )
    router.add(
        "GET",
        "/{product}/v1_0/accountholder/{type}/{holder}/basicuserinfo",
        _only_products(mtn.basic_user_info),
    )
    router.add("GET", "/{product}/v1_0/account/balance", _only_products(mtn.balance))
    router.add("GET", "/{product}/v1_0/account/balance/{currency}", _only_products(mtn.balance))
    return SandboxApp(sandbox, router, _Wire())


def _only_products(fn: Any) -> Any:
    async def handler(request: Request) -> Response:
        if request.params["product"] not in _PRODUCTS:
            return _apim(404, "Resource not found")
        return await fn(request)  # type: ignore[no-any-return]

    return handler
