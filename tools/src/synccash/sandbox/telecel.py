"""Telecel Cash sandbox, modelled on Hubtel's Direct Receive / Send Money (channel vodafone-gh).

Telecel publishes no merchant API (merchants go through aggregators), so, like
SyncCash's client, this sandbox follows Hubtel's shape (reference section 3 and
``provider-specs/hubtel/HUBTEL_DIRECT_RECEIVE_MONEY.md``). Hubtel serves its calls
from five hosts (``HOSTS``: receive ``rmp``, status ``api-txnstatus``, send ``smp``,
send status ``smrsc``, name check ``rnv``); ``create_app(sandbox)`` serves them all
from one root, ``create_app(sandbox, hosts={"status"})`` only that host's routes
(so a client that sends a call to the wrong host gets Hubtel's 404):

- Auth: HTTP Basic ``client_id:client_secret``; the POS Sales id (``merchant_account``,
  receive money, its status, name check) and the Prepaid Deposit id
  (``prepaid_account``, send money and its status; another number by default, so a
  client that sends money on the POS id gets ``4101``) are path segments.
- ``POST /merchantaccount/merchants/{pos}/receive/mobilemoney`` with ``CustomerMsisdn``
  (``233…``), ``Channel`` (must be ``vodafone-gh``), ``Amount`` (cedis, JSON number,
  at most 2 decimals), ``PrimaryCallbackUrl``, ``Description``, ``ClientReference``,
  optional ``CustomerName``/``CustomerEmail``. Field names are matched
  case-insensitively (Hubtel is ASP.NET; its own docs spell ``PrimaryCallbackURL``
  both ways). Answer: ``{"Message","ResponseCode":"0001","Data":{TransactionId,
  Description, ClientReference, Amount, Charges, AmountAfterCharges, AmountCharged,
  DeliveryFee}}``.
- Callback: POST to ``PrimaryCallbackUrl``, ``{"ResponseCode","Message","Data":{Amount,
  Charges, AmountAfterCharges, Description, ClientReference, TransactionId,
  ExternalTransactionId, AmountCharged, OrderId, PaymentDate}}``, no signature.
- ``GET /transactions/{pos}/status?clientReference=…`` (or ``hubtelTransactionId`` /
  ``networkTransactionId``): ``{"message","responseCode","data":{date, status,
  transactionId, externalTransactionId, paymentMethod, clientReference, currencyCode,
  amount, charges, amountAfterCharges, isFulfilled}}``.
- ``POST /api/merchants/{prepaid}/send/mobilemoney`` (``RecipientMsisdn``,
  ``RecipientName``, ``Channel``, ``Amount``, ``PrimaryCallbackURL``, ``Description``,
  ``ClientReference``) and ``GET /api/merchants/{prepaid}/transactions/status``.
- ``GET /merchantaccount/merchants/{pos}/mobilemoney/verify?channel=…&customerMsisdn=…``
  (name enquiry): ``{"responseCode":"0000","data":{"isRegistered", "name", "status"}}``.

Choices where Hubtel's pages are silent (not Hubtel facts):

- Codes: success 0000; pending 0001; rejected, expired, limit, not allowed 2001 with
  ``Data.Description`` saying why; insufficient funds 2050; payer not registered on
  Telecel 2201 (payouts: recipient 2200); internal-error test numbers answer the
  submit with **0005** (state unknown) and end failed (2001).
- Status check: with ``options["status_semantics"] = "documented"`` exactly as Hubtel
  documents it: ``responseCode`` ``0000`` (the check worked) and ``data.status``
  ``Paid`` once paid, ``Unpaid`` otherwise, i.e. while the payer has not approved *and*
  after the payment failed, so a failure is known only from the callback (``2001``
  etc.) or when the merchant gives up waiting. The default (``"coded"``) puts the
  transaction's own code in ``responseCode`` (``0001`` + ``Unpaid`` pending, ``2001`` +
  ``Unpaid`` failed): NOT Hubtel's documented behaviour. It stays the default because
  SyncCash does not yet act on a callback's failure claim (the core only treats a
  callback as "ask the status now"), so under the documented form a failed Telecel
  payment would wait in PROCESSING until the poll horizon.
  Unknown reference -> HTTP 404 ``{"message":"Transaction not found","responseCode":"4040"}``
  (Hubtel documents no answer for it).
- Charges follow a configurable tariff (``options["tariff"]``, ``DEFAULT_TARIFF``):
  ``collection_bps`` / ``disbursement_bps`` of the amount (rounded half up to the
  pesewa), borne by the merchant (``bearer: "merchant"``: ``AmountAfterCharges =
  Amount - Charges``, ``AmountCharged = Amount``; Hubtel's status sample) or the
  customer (``"customer"``: ``AmountAfterCharges = Amount``, ``AmountCharged = Amount +
  Charges``; Hubtel's receive sample). Send money debits ``Amount + Charges`` from the
  prepaid float (``AmountDebited``). The charges go to ``sandbox.charges_minor``
  (the provider's income), so wallets + merchant float + charges is conserved. An
  amount below ``min_amount_minor`` answers ``4070`` "Fees not set for given
  conditions" (Hubtel: pass the required minimum amount).
- A repeated ``ClientReference`` with the same number and amount answers the first
  response again (idempotent replay, nothing happens twice); with different details
  -> 400 ``4000`` "ClientReference already used".
- ``Description`` containing ``& % ^`` is accepted and then fails 2001 "Invalid
  characters in description" (as Hubtel lists under 2001).
- Wrong/missing Basic credentials -> 401 ``{"Message":"Authorization has been denied
  for this request."}`` (ASP.NET's shape); an unknown POS/prepaid id -> 403 ``4101``;
  another channel -> 403 ``4103``; validation -> 400 ``4000`` with ``Data`` listing
  fields; payout above the merchant float -> ``4075``. Service-unavailable test numbers
  -> 503 ``5000``, nothing recorded.
- Injected faults: 500/503 ``{"ResponseCode":"5000","Message":…}``; 429 with
  ``Retry-After``.
- No refund API (Hubtel's direct receive money has none): refund payers with Send Money.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any, Final
from urllib.parse import urlparse

from synccash.sandbox._app import SandboxApp
from synccash.sandbox._asgi import Request, Response, Router
from synccash.sandbox._money import to_cedis, to_minor
from synccash.sandbox._numbers import canonical
from synccash.sandbox._sandbox import (
    Attempt,
    Callback,
    ProviderSandbox,
    SandboxConfig,
    customer_charge,
    merchant_charge,
)
from synccash.sandbox._world import SandboxWorld

#: Accepted credentials by default: the defaults of synccash.adapters.settings.
DEFAULT_CREDENTIALS: Final[dict[str, str]] = {
    "client_id": "synccash-telecel-client",
    "client_secret": "synccash-telecel-secret",
    "merchant_account": "2017101",
    "prepaid_account": "2017102",
}

#: Hubtel's five hosts (one service each); ``create_app(hosts=...)`` serves a subset.
HOSTS: Final = frozenset({"receive", "status", "send", "send_status", "verify"})

#: Hubtel publishes no tariff (it is negotiated per merchant): 1 % of the amount, borne by
#: the merchant, for both directions; amounts below GHS 0.10 have no fee set (4070).
DEFAULT_TARIFF: Final[dict[str, Any]] = {
    "collection_bps": 100,
    "disbursement_bps": 100,
    "bearer": "merchant",
    "min_amount_minor": 10,
}

DEFAULT_OPTIONS: Final[dict[str, Any]] = {
    "channel": "vodafone-gh",
    "tariff": DEFAULT_TARIFF,
    "status_semantics": "coded",
}

#: Canonical reason -> (ResponseCode, description) for collections.
FAILURE_CODES: Final[dict[str, tuple[str, str]]] = {
    "APPROVAL_REJECTED": ("2001", "The customer declined the payment prompt"),
    "EXPIRED": ("2001", "USSD session timed out: the payment request expired"),
    "PAYER_LIMIT_REACHED": ("2001", "The customer has reached the transaction limit"),
    "NOT_ALLOWED": ("2001", "The customer is not allowed to perform this transaction"),
    "NOT_ENOUGH_FUNDS": ("2050", "Insufficient funds in the customer's wallet"),
    "PAYER_NOT_FOUND": ("2201", "The customer is not registered on Telecel Cash"),
    "PAYEE_NOT_FOUND": ("2200", "The recipient is not registered on Telecel Cash"),
    "INTERNAL_PROCESSING_ERROR": ("2001", "The Telecel Cash transaction failed"),
    "INVALID_DESCRIPTION": ("2001", "Invalid characters in description"),
}
_REFERENCE: Final = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_BAD_DESCRIPTION: Final = re.compile(r"[&%^]")
_PENDING_MESSAGE: Final = "Transaction pending. Expect callback request for final state"


def default_config() -> SandboxConfig:
    """The Telecel sandbox configuration with the settings.py default credentials."""
    return SandboxConfig(credentials=dict(DEFAULT_CREDENTIALS), options=dict(DEFAULT_OPTIONS))


def create_sandbox(world: SandboxWorld | None = None, **kwargs: Any) -> ProviderSandbox:
    """A ProviderSandbox for Telecel Cash with its default configuration."""
    kwargs.setdefault("config", default_config())
    return ProviderSandbox("telecel", world, **kwargs)


def _coded(status: int, code: str, message: str, data: Any = None) -> Response:
    body: dict[str, Any] = {"ResponseCode": code, "Message": message}
    if data is not None:
        body["Data"] = data
    return Response.json(status, body)


def _invalid(field: str, message: str) -> Response:
    return _coded(400, "4000", "Validation Errors", [{"Field": field, "Messages": [message]}])


class _Wire:
    def server_error(self, status: int) -> Response:
        return _coded(status, "5000", "Something went wrong. Please try again later.")

    def rate_limited(self, retry_after: int) -> Response:
        return Response.json(
            429,
            {"ResponseCode": "429", "Message": "Too many requests"},
            (("retry-after", str(retry_after)),),
        )

    def unavailable(self) -> Response:
        return self.server_error(503)

    def forbidden(self) -> Response:
        return Response.json(403, {"Message": "Forbidden"})

    def no_route(self, status: int) -> Response:
        return Response.json(
            status, {"Message": "No HTTP resource was found that matches the request URI."}
        )


class _Hubtel:
    def __init__(self, sandbox: ProviderSandbox) -> None:
        self.sandbox = sandbox

    @property
    def options(self) -> dict[str, Any]:
        return {**DEFAULT_OPTIONS, **self.sandbox.config.options}

    @property
    def tariff(self) -> dict[str, Any]:
        return {**DEFAULT_TARIFF, **self.options.get("tariff", {})}

    def cred(self, name: str) -> str:
        return self.sandbox.config.credentials.get(name, DEFAULT_CREDENTIALS[name])

    def refused(self, request: Request, account_kind: str) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            user, secret = "", ""
        if (
            scheme.lower() != "basic"
            or user != self.cred("client_id")
            or secret != self.cred("client_secret")
        ):
            return Response.json(
                401, {"Message": "Authorization has been denied for this request."}
            )
        if request.params["account"] != self.cred(account_kind):
            return _coded(403, "4101", "The merchant account is not set up for this request.")
        return None

    # -- submit ---------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        return await self._submit(request, "collection")

    async def send(self, request: Request) -> Response:
        return await self._submit(request, "disbursement")

    async def _submit(self, request: Request, kind: str) -> Response:
        collection = kind == "collection"
        refused = self.refused(request, "merchant_account" if collection else "prepaid_account")
        if refused is not None:
            return refused
        try:
            raw = request.json()
        except ValueError:
            return _invalid("body", "The request body is not valid JSON.")
        if not isinstance(raw, dict):
            return _invalid("body", "The request body must be a JSON object.")
        body = {str(k).lower(): v for k, v in raw.items()}
        number_field = "customermsisdn" if collection else "recipientmsisdn"
        problem = _validate(body, number_field)
        if problem is not None:
            return problem
        if (
            self.sandbox.config.production
            and urlparse(str(body["primarycallbackurl"])).scheme != "https"
        ):
            return _invalid("PrimaryCallbackUrl", "PrimaryCallbackUrl must be an https URL.")
        if body["channel"] != self.options["channel"]:
            return _coded(
                403,
                "4103",
                "Permission denied. Account is not allowed to transact on this channel.",
            )
        reference, amount = str(body["clientreference"]), to_minor(body["amount"]) or 0
        key = canonical(str(body[number_field])) or str(body[number_field])
        existing = self.sandbox.attempt(reference)
        if existing is not None:
            if (existing.msisdn, existing.amount_minor, existing.kind) != (key, amount, kind):
                return _invalid("ClientReference", "ClientReference already used.")
            return self._accepted(existing)
        scenario = self.sandbox.scenario(key)
        if scenario.reject_on_submit:
            return self.wire_unavailable()
        tariff = self.tariff
        if amount < int(tariff["min_amount_minor"]):
            return _coded(
                200,
                "4070",
                "Unable to complete payment at the moment. Fees not set for given conditions.",
            )
        charges = _charge(amount, int(tariff[f"{kind}_bps"]))
        if not collection and self.sandbox.config.merchant_balance_minor < amount + charges:
            return _coded(200, "4075", "Insufficient prepaid balance to complete the transaction.")
        bad_description = bool(_BAD_DESCRIPTION.search(str(body["description"])))
        attempt = self.sandbox.accept(
            "collection" if collection else "disbursement",
            reference,
            key,
            amount,
            "GHS",
            provider_txn_id=uuid.uuid4().hex,
            renderer=self._renderer(str(body["primarycallbackurl"])),
            request=body,
            forced_reason="INVALID_DESCRIPTION" if bad_description else None,
            charges_minor=charges,
            charges_bearer="customer"
            if collection and tariff["bearer"] == "customer"
            else "merchant",
        )
        attempt.extra["external_id"] = self.sandbox.new_txn_id()
        if scenario.reason == "INTERNAL_PROCESSING_ERROR":
            return _coded(
                200,
                "0005",
                "There was an HTTP failure or exception reaching the payment partner.",
                self._submit_data(attempt),
            )
        return self._accepted(attempt)

    def wire_unavailable(self) -> Response:
        return _coded(503, "5000", "Something went wrong. Please try again later.")

    def _accepted(self, attempt: Attempt) -> Response:
        return _coded(200, "0001", _PENDING_MESSAGE, self._submit_data(attempt))

    def _submit_data(self, attempt: Attempt) -> dict[str, Any]:
        data: dict[str, Any] = {
            "TransactionId": attempt.provider_txn_id,
            "Description": attempt.request.get("description"),
            "ClientReference": attempt.reference,
            "Amount": to_cedis(attempt.amount_minor),
            "Charges": to_cedis(attempt.charges_minor),
        }
        if attempt.kind == "collection":
            data |= _collection_amounts(attempt) | {"DeliveryFee": 0.0}
        else:
            data |= {
                "AmountDebited": to_cedis(attempt.amount_minor + attempt.charges_minor),
                "ExternalTransactionId": attempt.extra.get("external_id", ""),
                "Recipient": attempt.request.get("recipientname"),
            }
        return data

    # -- final state ----------------------------------------------------------------------

    def outcome(self, attempt: Attempt) -> tuple[str, str]:
        """(ResponseCode, description) of an attempt's current state."""
        if attempt.status == "pending":
            return "0001", "Transaction pending"
        if attempt.status == "success":
            return "0000", "The Telecel Cash payment has been approved and processed successfully"
        return FAILURE_CODES.get(attempt.reason or "", ("2001", "The transaction failed"))

    def _renderer(self, url: str) -> Any:
        def render(attempt: Attempt, stale: bool) -> Callback:
            code, description = ("0001", "Transaction pending") if stale else self.outcome(attempt)
            message = {"0000": "success", "0001": "pending"}.get(code, "failed")
            amounts = _collection_amounts(attempt)
            body = {
                "ResponseCode": code,
                "Message": message,
                "Data": {
                    "Amount": to_cedis(attempt.amount_minor),
                    "Charges": to_cedis(attempt.charges_minor),
                    "AmountAfterCharges": amounts["AmountAfterCharges"],
                    "Description": description,
                    "ClientReference": attempt.reference,
                    "TransactionId": attempt.provider_txn_id,
                    "ExternalTransactionId": attempt.extra.get("external_id", ""),
                    "AmountCharged": amounts["AmountCharged"],
                    "OrderId": attempt.provider_txn_id,
                    "PaymentDate": self.sandbox.now().isoformat().replace("+00:00", "Z"),
                },
            }
            payload = json.dumps(body, separators=(",", ":")).encode()
            return Callback("POST", url, {"content-type": "application/json"}, payload)

        return render

    # -- status check ---------------------------------------------------------------------

    async def receive_status(self, request: Request) -> Response:
        return self._status(request, "collection", "merchant_account")

    async def send_status(self, request: Request) -> Response:
        return self._status(request, "disbursement", "prepaid_account")

    def _status(self, request: Request, kind: str, account_kind: str) -> Response:
        refused = self.refused(request, account_kind)
        if refused is not None:
            return refused
        query = {k.lower(): v for k, v in request.query.items()}
        attempt = None
        if "clientreference" in query:
            attempt = self.sandbox.attempt(query["clientreference"])
        elif "hubteltransactionid" in query:
            attempt = self.sandbox.by_provider_txn_id(query["hubteltransactionid"])
        elif "networktransactionid" in query:
            wanted = query["networktransactionid"]
            attempt = self.sandbox.find(lambda a: a.extra.get("external_id") == wanted)
        if attempt is None or attempt.kind != kind:
            return Response.json(404, {"message": "Transaction not found", "responseCode": "4040"})
        code, description = self.outcome(attempt)
        paid = code == "0000"
        if self.options["status_semantics"] != "coded":
            code, description = "0000", "Successful"
        data = {
            "date": self.sandbox.now().isoformat().replace("+00:00", "Z"),
            "status": "Paid" if paid else "Unpaid",
            "transactionId": attempt.provider_txn_id,
            "externalTransactionId": attempt.extra.get("external_id", ""),
            "paymentMethod": "mobilemoney",
            "clientReference": attempt.reference,
            "currencyCode": None,
            "amount": to_cedis(attempt.amount_minor),
            "charges": to_cedis(attempt.charges_minor),
            "amountAfterCharges": _collection_amounts(attempt)["AmountAfterCharges"],
            "isFulfilled": None,
        }
        message = "Successful" if code == "0000" else description
        return Response.json(200, {"message": message, "responseCode": code, "data": data})

    # -- name enquiry ---------------------------------------------------------------------

    async def verify(self, request: Request) -> Response:
        refused = self.refused(request, "merchant_account")
        if refused is not None:
            return refused
        query = {k.lower(): v for k, v in request.query.items()}
        if query.get("channel", self.options["channel"]) != self.options["channel"]:
            return _coded(
                403,
                "4103",
                "Permission denied. Account is not allowed to transact on this channel.",
            )
        key = canonical(query.get("customermsisdn", ""))
        wallet = self.sandbox.world.on_provider(key, "telecel") if key else None
        if wallet is not None and self.sandbox.scenario(wallet.msisdn).reason == "PAYER_NOT_FOUND":
            wallet = None
        data = {
            "isRegistered": wallet is not None,
            "name": wallet.name if wallet is not None else None,
            "status": "active" if wallet is not None else None,
        }
        return Response.json(200, {"message": "Success", "responseCode": "0000", "data": data})


def _charge(amount_minor: int, bps: int) -> int:
    """``bps`` basis points of an amount, rounded half up to the pesewa (integers only)."""
    return (amount_minor * bps + 5_000) // 10_000


def _collection_amounts(attempt: Attempt) -> dict[str, float]:
    """``AmountAfterCharges`` (what the merchant gets) and ``AmountCharged`` (the wallet's debit)."""
    return {
        "AmountAfterCharges": to_cedis(attempt.amount_minor - merchant_charge(attempt)),
        "AmountCharged": to_cedis(attempt.amount_minor + customer_charge(attempt)),
    }


def _validate(body: dict[str, Any], number_field: str) -> Response | None:
    for name in (
        number_field,
        "channel",
        "amount",
        "primarycallbackurl",
        "description",
        "clientreference",
    ):
        if body.get(name) in (None, ""):
            return _invalid(name, f"{name} is required.")
    number = str(body[number_field])
    if not (number.isdigit() and len(number) == 12 and number.startswith("233")):
        return _invalid(
            number_field, "The mobile number must be in international format 233XXXXXXXXX."
        )
    amount = body["amount"]
    if isinstance(amount, (str, bool)) or to_minor(amount) is None:
        return _invalid("Amount", "Amount must be a positive number with at most 2 decimal places.")
    if not _REFERENCE.match(str(body["clientreference"])):
        return _invalid(
            "ClientReference", "ClientReference must be alphanumeric, at most 36 characters."
        )
    if urlparse(str(body["primarycallbackurl"])).scheme not in ("http", "https"):
        return _invalid("PrimaryCallbackUrl", "PrimaryCallbackUrl must be an absolute URL.")
    return None


def create_app(
    sandbox: ProviderSandbox | None = None, *, hosts: frozenset[str] | set[str] = HOSTS
) -> SandboxApp:
    """The Telecel Cash sandbox as an ASGI app (a fresh sandbox and world when none is given).

    ``hosts`` picks which of Hubtel's hosts this app is (default all of them): serve the
    same sandbox once per host to have each on its own origin, as Hubtel does.
    """
    unknown = set(hosts) - HOSTS
    if unknown:
        raise ValueError(f"unknown Hubtel hosts {sorted(unknown)}; known: {sorted(HOSTS)}")
    sandbox = sandbox if sandbox is not None else create_sandbox()
    hubtel = _Hubtel(sandbox)
    routes = {
        "receive": (
            "POST",
            "/merchantaccount/merchants/{account}/receive/mobilemoney",
            hubtel.receive,
        ),
        "verify": ("GET", "/merchantaccount/merchants/{account}/mobilemoney/verify", hubtel.verify),
        "status": ("GET", "/transactions/{account}/status", hubtel.receive_status),
        "send": ("POST", "/api/merchants/{account}/send/mobilemoney", hubtel.send),
        "send_status": ("GET", "/api/merchants/{account}/transactions/status", hubtel.send_status),
    }
    router = Router()
    for host, (method, path, handler) in routes.items():
        if host in hosts:
            router.add(method, path, handler)
    return SandboxApp(sandbox, router, _Wire())
