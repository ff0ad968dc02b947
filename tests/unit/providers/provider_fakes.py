"""Fakes for provider client unit tests: a scripted httpx.MockTransport and request builders."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from synccash.adapters.settings import ProviderCredentials
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind
from synccash.core.ports import AttemptRequest
from synccash.core.providers import ProviderId

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]

SECRETS = (
    "s3cr3t-mtn-api-key",
    "s3cr3t-mtn-subscription",
    "s3cr3t-at-client-secret",
    "s3cr3t-telecel-secret",
    "tok-s3cr3t-bearer",
)


class FakeProvider:
    """Routes requests by (method, path) to scripted replies and records every request.

    A route's replies are used in order; the last one repeats. A reply may be a
    Response, an exception to raise (transport failures) or a callable.
    """

    def __init__(self) -> None:
        """Start with no routes."""
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *replies: Reply) -> FakeProvider:
        """Script the replies for one route."""
        self.routes[(method, path)] = list(replies)
        return self

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        """Recorded requests for one route."""
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        self.requests.append(request)
        replies = self.routes.get((request.method, request.url.path))
        if not replies:
            return httpx.Response(404, json={"code": "NO_ROUTE"})
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def client(self, base_url: str = "") -> httpx.AsyncClient:
        """An AsyncClient over this fake."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url=base_url)


class FakeClock:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Current time."""
        return self.now


def body_of(request: httpx.Request) -> Any:
    """The JSON body of a recorded request."""
    return json.loads(request.content)


def jresp(status: int, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=data, headers=headers)


def attempt(
    kind: AttemptKind = AttemptKind.COLLECT,
    provider: ProviderId = ProviderId.MTN,
    *,
    reference: str | None = None,
    amount: str = "12.50",
    msisdn: str = "0241234567",
    **extra: Any,
) -> AttemptRequest:
    """An attempt request with sensible defaults."""
    return AttemptRequest(
        provider=provider,
        kind=kind,
        reference=reference or str(uuid.uuid4()),
        amount=Money.parse(amount),
        msisdn=Msisdn.parse(msisdn),
        **{"payment_id": "pay_01HZX", "note": "Order 42", **extra},
    )


MTN_COLLECTION = ProviderCredentials(
    "https://mtn.test", "mtn-user", SECRETS[0], subscription_key=SECRETS[1]
)
MTN_DISBURSEMENT = ProviderCredentials(
    "https://mtn.test", "mtn-disb-user", SECRETS[0] + "-d", subscription_key=SECRETS[1] + "-d"
)
AT_CREDENTIALS = ProviderCredentials("https://at.test", "at-client", SECRETS[2])
TELECEL_CREDENTIALS = ProviderCredentials(
    "https://telecel.test", "tc-client", SECRETS[3], extra={"merchant_account": "2017101"}
)


#: An RSA key standing in for Airtel's encryption key (1024-bit, as Airtel publishes).
AT_PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


def at_key_answer(key_id: int = 100, valid_upto: str = "31-12-2099 23:59:59") -> httpx.Response:
    """GET /v1/rsa/encryption-keys as Airtel answers it, carrying AT_PRIVATE_KEY's public half."""
    der = AT_PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    data = {"key_id": key_id, "key": base64.b64encode(der).decode(), "valid_upto": valid_upto}
    return jresp(200, {"data": data, "status": {"response_code": "DP02010001001", "success": True}})
