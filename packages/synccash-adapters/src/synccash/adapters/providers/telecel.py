"""Telecel Cash client, modelled on Hubtel's Direct Receive Money API (provider-apis.md sec 3).

Telecel Cash publishes **no merchant API**: merchants reach it through
aggregators. This is the model chosen for SyncCash's Telecel adapter (and its
sandbox): Hubtel's Direct Receive Money / Send Money / Transaction Status
Check shape with channel `vodafone-gh`, HTTP Basic auth, PascalCase bodies,
4-digit string `ResponseCode`s and amounts in cedis with two decimals.

Hubtel serves these calls from five hosts (`HubtelHosts`, one setting each; the
single `TELECEL_BASE_URL` fills every one that is not set):

- receive (`rmp.hubtel.com`): `POST /merchantaccount/merchants/{POS}/receive/mobilemoney`
- status (`api-txnstatus.hubtel.com`): `GET /transactions/{POS}/status?clientReference=…`
- send (`smp.hubtel.com`): `POST /api/merchants/{prepaid}/send/mobilemoney` (payouts and
  refunds: Hubtel has no refund call for receive-money, so a refund is a send to the payer)
- send status (`smrsc.hubtel.com`): `GET /api/merchants/{prepaid}/transactions/status?clientReference=…`
- name check (`rnv.hubtel.com`): `GET /merchantaccount/merchants/{POS}/mobilemoney/verify?channel=…&customerMsisdn=…`

`{POS}` is the POS Sales ID (`TELECEL_MERCHANT_ACCOUNT`), `{prepaid}` the Prepaid
Deposit account (`TELECEL_PREPAID_ACCOUNT`): Hubtel refuses send money on the POS id.

Charges: every Hubtel answer carries `Amount`, `Charges` and `AmountAfterCharges`
(send money: `Amount`, `Charges`, `AmountDebited`). The outcome's
`provider_charges_minor` is what the charge costs *us*: `Amount - AmountAfterCharges`
when both are given (Hubtel's receive sample shows a customer-borne charge with
`AmountAfterCharges == Amount`, its status sample a merchant-borne one), else
`Charges`. Amounts are read as decimals, never floats.

`ClientReference` must be alphanumeric and at most 36 characters, so a UUID
reference is sent without its dashes (32 hex digits); `reference_from_client`
turns it back.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import Any, Final

import httpx
import structlog
from attrs import evolve, frozen

from synccash.adapters.providers._http import (
    USER_AGENT,
    Clock,
    as_dict,
    decimal_amount,
    encode_json,
    guard_submit,
    http_fallback,
    json_object,
    minor_units,
    text,
    throttled,
    transport_outcome,
)
from synccash.adapters.providers._model import LookupUnavailable, callback_url
from synccash.adapters.providers._table import (
    STATUS_ONLY,
    SUBMIT_ONLY,
    MessageRule,
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

_F = OutcomeKind.FAILED
_R = FailureReason

#: Hubtel `ResponseCode` (union of Hubtel's pages, provider-apis.md sec 3).
TELECEL_CODES: Final = OutcomeTable(
    "telecel",
    [
        Rule("0000", OutcomeKind.SUCCEEDED, note="success"),
        Rule("0001", OutcomeKind.PENDING, note="accepted; callback on final state"),
        Rule("0005", OutcomeKind.UNKNOWN, ops=SUBMIT_ONLY, note="state unknown: status check"),
        Rule("2001", _F, _R.REJECTED_BY_PAYER, note="processor failure (PIN, timeout, funds)"),
        Rule("2050", _F, _R.INSUFFICIENT_FUNDS, note="insufficient funds"),
        Rule("2051", _F, _R.PAYER_NOT_FOUND, note="number not registered"),
        Rule("2100", _F, _R.REJECTED_BY_PAYER, note="phone off or customer declined"),
        Rule("2101", _F, _R.REJECTED_BY_PAYER, note="invalid PIN"),
        Rule("2102", _F, _R.INSUFFICIENT_FUNDS, note="insufficient funds"),
        Rule("2103", _F, _R.PAYER_NOT_FOUND, note="not registered"),
        Rule("2152", _F, _R.PAYER_NOT_FOUND, note="not registered"),
        Rule("2153", _F, _R.LIMIT_EXCEEDED, note="above maximum"),
        Rule("2154", _F, _R.INSUFFICIENT_FUNDS, note="insufficient funds / limit"),
        Rule("2200", _F, _R.PAYEE_NOT_FOUND, note="recipient not registered on Telecel Cash"),
        Rule("2201", _F, _R.PAYER_NOT_FOUND, note="customer not registered on Telecel Cash"),
        Rule("3050", _F, _R.OTHER, note="network decline"),
        Rule("4000", _F, _R.INVALID_REQUEST, ops=SUBMIT_ONLY, note="validation errors"),
        Rule("4070", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="fees not set for amount"),
        Rule("4075", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="prepaid float too low"),
        Rule("4101", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="missing scope / keys"),
        Rule("4103", _F, _R.CONFIGURATION, ops=SUBMIT_ONLY, note="channel not permitted"),
        Rule("5000", OutcomeKind.UNKNOWN, ops=SUBMIT_ONLY, note="something went wrong"),
    ],
    # 2001 lumps several causes together; its message says which.
    [
        MessageRule("2001", "insufficient", _R.INSUFFICIENT_FUNDS),
        MessageRule("2001", "balance", _R.INSUFFICIENT_FUNDS),
        MessageRule("2001", "timeout", _R.EXPIRED),
        MessageRule("2001", "timed out", _R.EXPIRED),
        MessageRule("2001", "expired", _R.EXPIRED),
        MessageRule("2001", "limit", _R.LIMIT_EXCEEDED),
        MessageRule("2001", "not registered", _R.PAYER_NOT_FOUND),
        MessageRule("2001", "not allowed", _R.NOT_ALLOWED),
        MessageRule("2001", "invalid characters", _R.INVALID_REQUEST),
    ],
)

#: `data.status` of a status check.
TELECEL_STATUSES: Final = OutcomeTable(
    "telecel-status",
    [
        Rule("PAID", OutcomeKind.SUCCEEDED, ops=STATUS_ONLY),
        Rule("SUCCESS", OutcomeKind.SUCCEEDED, ops=STATUS_ONLY),
        Rule("SUCCESSFUL", OutcomeKind.SUCCEEDED, ops=STATUS_ONLY),
        Rule("REFUNDED", OutcomeKind.SUCCEEDED, ops=STATUS_ONLY, note="paid, later refunded"),
        # Hubtel's "Unpaid" covers "not yet" as well as "never": reading it as a
        # failure while the payer is still approving would fail a payment whose
        # money then moves. It stays pending; the failure arrives as a 2001-class
        # code, or the payment expires (money-safety rule 3: never guess failed).
        Rule("UNPAID", OutcomeKind.PENDING, ops=STATUS_ONLY, note="not paid (yet)"),
        Rule("FAILED", _F, _R.OTHER, ops=STATUS_ONLY),
        Rule("PENDING", OutcomeKind.PENDING, ops=STATUS_ONLY),
        Rule("EXPIRED", _F, _R.EXPIRED, ops=STATUS_ONLY),
    ],
)

_CHANNEL: Final = "vodafone-gh"
_HEX32: Final = re.compile(r"^[0-9a-fA-F]{32}$")


def client_reference(reference: str) -> str:
    """Our reference as a Hubtel ClientReference (alphanumeric, <= 36)."""
    return re.sub(r"[^A-Za-z0-9]", "", reference)[:36]


def reference_from_client(value: str) -> str:
    """Undo `client_reference` for UUID references (32 hex digits -> canonical UUID)."""
    if _HEX32.match(value):
        return str(uuid.UUID(value))
    return value


def _code_and_message(body: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(ResponseCode, Message) in PascalCase or camelCase."""
    if body is None:
        return None, None
    code = text(body.get("ResponseCode")) or text(body.get("responseCode"))
    message = text(body.get("Message")) or text(body.get("message"))
    data = as_dict(body.get("Data") or body.get("data"))
    detail = text(data.get("Description")) or text(data.get("description"))
    if detail and message and detail.lower() != message.lower():
        message = f"{message}: {detail}"
    return code, message or detail


def _hubtel_answer(body: dict[str, Any] | None) -> bool:
    """True when a body is Hubtel's envelope (it carries a response code)."""
    return _code_and_message(body)[0] is not None


def _transaction_id(body: dict[str, Any] | None) -> str | None:
    data = as_dict((body or {}).get("Data") or (body or {}).get("data"))
    for key in ("ExternalTransactionId", "externalTransactionId", "TransactionId", "transactionId"):
        value = text(data.get(key))
        if value:
            return value
    return None


def charges_minor(body: dict[str, Any] | None) -> int | None:
    """The charge this answer says we bear, in pesewas (see the module docstring)."""
    data = as_dict((body or {}).get("Data") or (body or {}).get("data"))
    fields = {str(key).lower(): value for key, value in data.items()}
    amount = minor_units(fields.get("amount"))
    after = minor_units(fields.get("amountaftercharges"))
    if amount is not None and after is not None and after <= amount:
        return amount - after
    return minor_units(fields.get("charges"))


def _with_charges(outcome: ProviderOutcome, body: dict[str, Any] | None) -> ProviderOutcome:
    charges = charges_minor(body)
    return outcome if charges is None else evolve(outcome, provider_charges_minor=charges)


def submit_outcome(response: httpx.Response) -> ProviderOutcome:
    """Classify a receive-money / send-money answer."""
    if response.status_code == 429:
        return throttled(response)
    body = json_object(response)
    code, message = _code_and_message(body)
    outcome = TELECEL_CODES.outcome(
        Operation.SUBMIT, code, message=message, transaction_id=_transaction_id(body)
    )
    if outcome is not None:
        return _with_charges(guard_submit(outcome, response.status_code), body)
    if 200 <= response.status_code < 300:
        # A 2xx without a code we know: it may well have been accepted.
        return ProviderOutcome.unknown(code=code or str(response.status_code), message=message)
    return http_fallback(response.status_code, Operation.SUBMIT)


def status_outcome(response: httpx.Response) -> ProviderOutcome:
    """Classify a status check, with the charges it reports."""
    if response.status_code == 429:
        return throttled(response)
    body = json_object(response)
    if response.status_code == 404:
        if _hubtel_answer(body):
            return ProviderOutcome.not_found(code="404", message="no such client reference")
        # A 404 without Hubtel's envelope is a route that does not exist on this host
        # (e.g. a status check sent to the receive-money host): it says nothing about the
        # attempt, so it must not read as "never accepted".
        return ProviderOutcome.transient(code="404", message="no such route: check the host")
    outcome = _status_outcome(response, body)
    if outcome.kind is OutcomeKind.TRANSIENT:
        return outcome
    return _with_charges(outcome, body)


def _status_outcome(response: httpx.Response, body: dict[str, Any] | None) -> ProviderOutcome:
    """Classify a status check: `data.status` decides when the check itself succeeded."""
    code, message = _code_and_message(body)
    if response.status_code != 200 or body is None:
        return http_fallback(
            response.status_code if response.status_code != 200 else 502, Operation.STATUS
        )
    data = as_dict(body.get("data") or body.get("Data"))
    status = text(data.get("status")) or text(data.get("Status"))
    rule = TELECEL_STATUSES.rule(Operation.STATUS, status)
    if code == "0000" and rule is not None:
        return build(rule, status, message=message, transaction_id=_transaction_id(body))
    # A transaction-level code in the check (e.g. 2001 / 0001) still classifies it.
    outcome = TELECEL_CODES.outcome(
        Operation.STATUS, code, message=message, transaction_id=_transaction_id(body)
    )
    if outcome is not None and outcome.kind is not OutcomeKind.SUCCEEDED:
        return outcome
    if rule is not None:
        return build(rule, status, message=message, transaction_id=_transaction_id(body))
    return ProviderOutcome.transient(code=code or "malformed", message="status check gave no state")


@frozen
class HubtelHosts:
    """The origin (scheme://host[:port][/prefix]) of each Hubtel service."""

    receive: str
    status: str
    send: str
    send_status: str
    verify: str

    @classmethod
    def single(cls, base_url: str) -> HubtelHosts:
        """Every service under one base URL (a sandbox serving all of them)."""
        return cls(base_url, base_url, base_url, base_url, base_url)

    @classmethod
    def from_credentials(cls, credentials: ProviderCredentials) -> HubtelHosts:
        """The hosts from settings: each `*_url` in `extra`, else the base URL."""
        extra, base = credentials.extra, credentials.base_url

        def host(name: str) -> str:
            return (extra.get(f"{name}_url") or base).rstrip("/")

        return cls(
            host("receive"), host("status"), host("send"), host("send_status"), host("verify")
        )


class TelecelCashClient:
    """Telecel Cash through the Hubtel-style aggregator API, behind the ProviderClient shape."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        credentials: ProviderCredentials,
        public_base_url: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """Wire the client (`base_url` as for MtnMomoClient: None = the hosts from
        `credentials` (`HubtelHosts.from_credentials`), "" = relative paths on `http`).

        `clock` is accepted for symmetry: Basic auth has no token to expire.
        """
        self._http = http
        self._hosts = (
            HubtelHosts.from_credentials(credentials)
            if base_url is None
            else HubtelHosts.single(base_url)
        )
        self._account = credentials.extra.get("merchant_account", "")
        self._prepaid = credentials.extra.get("prepaid_account") or self._account
        self._credentials = credentials  # its repr hides the secret
        self._public_base_url = public_base_url
        self._timeout: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        self._clock = clock

    @property
    def provider(self) -> ProviderId:
        """Telecel Cash."""
        return ProviderId.TELECEL

    async def _call(
        self,
        method: str,
        base: str,
        path: str,
        operation: Operation,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response | ProviderOutcome:
        creds = self._credentials
        basic = base64.b64encode(f"{creds.user}:{creds.secret}".encode()).decode()
        headers = {
            "Authorization": f"Basic {basic}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            return await self._http.request(
                method,
                f"{base}{path}",
                content=encode_json(body) if body is not None else None,
                params=params,
                headers=headers,
                **self._timeout,
            )
        except httpx.TransportError as exc:
            return transport_outcome(exc, operation)

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Receive money (collect) or send money (disburse, and refund to the payer)."""
        ref = client_reference(request.reference)
        callback = request.callback_url or (
            callback_url(self._public_base_url, ProviderId.TELECEL, request.reference)
            if self._public_base_url
            else ""
        )
        description = _description(request.note or f"Payment {request.payment_id}")
        if request.kind is AttemptKind.COLLECT:
            path = f"/merchantaccount/merchants/{self._account}/receive/mobilemoney"
            body: dict[str, Any] = {
                "CustomerMsisdn": request.msisdn.e164,
                "Channel": _CHANNEL,
                "Amount": decimal_amount(request.amount),
                "PrimaryCallbackUrl": callback,
                "Description": description,
                "ClientReference": ref,
            }
        else:
            path = f"/api/merchants/{self._prepaid}/send/mobilemoney"
            body = {
                "RecipientMsisdn": request.msisdn.e164,
                "Channel": _CHANNEL,
                "Amount": decimal_amount(request.amount),
                "PrimaryCallbackURL": callback,
                "Description": description,
                "ClientReference": ref,
            }
        host = self._hosts.receive if request.kind is AttemptKind.COLLECT else self._hosts.send
        result = await self._call("POST", host, path, Operation.SUBMIT, body=body)
        outcome = result if isinstance(result, ProviderOutcome) else submit_outcome(result)
        _log.info(
            "telecel.submit",
            kind=request.kind.value,
            reference=request.reference,
            msisdn=request.msisdn.masked,
            outcome=outcome.kind.value,
            code=outcome.provider_code,
        )
        return outcome

    async def status(self, kind: AttemptKind, reference: str) -> ProviderOutcome:
        """Transaction status check by ClientReference."""
        if kind is AttemptKind.COLLECT:
            host, path = self._hosts.status, f"/transactions/{self._account}/status"
        else:
            host = self._hosts.send_status
            path = f"/api/merchants/{self._prepaid}/transactions/status"
        result = await self._call(
            "GET",
            host,
            path,
            Operation.STATUS,
            params={"clientReference": client_reference(reference)},
        )
        if isinstance(result, ProviderOutcome):
            return result
        return status_outcome(result)

    async def lookup(self, msisdn: Msisdn) -> AccountInfo:
        """Wallet name check on the vodafone-gh channel."""
        result = await self._call(
            "GET",
            self._hosts.verify,
            f"/merchantaccount/merchants/{self._account}/mobilemoney/verify",
            Operation.STATUS,
            params={"channel": _CHANNEL, "customerMsisdn": msisdn.e164},
        )
        if isinstance(result, ProviderOutcome):
            raise LookupUnavailable(f"Telecel lookup failed ({result.provider_code})")
        body = json_object(result)
        if result.status_code == 404:
            if not _hubtel_answer(body):
                raise LookupUnavailable("Telecel lookup: no such route (check TELECEL_VERIFY_URL)")
            return AccountInfo(ProviderId.TELECEL, msisdn, active=False)
        code, _message = _code_and_message(body)
        if result.status_code != 200 or body is None:
            raise LookupUnavailable(f"Telecel lookup answered HTTP {result.status_code}")
        data = as_dict(body.get("data") or body.get("Data"))
        registered = data.get("isRegistered", data.get("IsRegistered"))
        if code != "0000" or registered is not True:
            return AccountInfo(ProviderId.TELECEL, msisdn, active=False)
        name = text(data.get("name")) or text(data.get("Name"))
        return AccountInfo(ProviderId.TELECEL, msisdn, active=True, name=name)


def _description(note: str) -> str:
    """Hubtel fails (2001) on characters such as & % ^ in Description."""
    cleaned = re.sub(r"[^A-Za-z0-9 .,:/_-]", " ", note).strip()
    return (cleaned or "Payment")[:100]
