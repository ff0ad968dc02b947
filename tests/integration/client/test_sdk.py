"""The merchant SDK against the real API over HTTP (uvicorn on loopback, in-memory adapters)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from served_api import served
from synccash.adapters.bootstrap import wire
from synccash.adapters.settings import Settings
from synccash.adapters.webhooks import sign
from synccash.api import create_app, mint_token
from synccash.client import (
    AsyncSyncCash,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    SyncCash,
    TransportError,
    WebhookVerificationError,
    verify_signature,
    verify_standard,
)

MERCHANT = "shop-sdk"
PAYER = "0241234567"


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Settings with a test secret."""
    return Settings.from_env({"JWT_SECRET_KEY": "k" * 40})


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    """The API, served for real on a loopback port."""
    with served(create_app(wire(settings))) as url:
        yield url


@pytest.fixture
def merchant(request: pytest.FixtureRequest) -> str:
    """A merchant of its own per test (lists and rate limits do not mix)."""
    return f"{MERCHANT}-{request.node.name[-40:]}"


@pytest.fixture
def token(settings: Settings, merchant: str) -> str:
    """A merchant token with every scope."""
    return mint_token(settings, merchant, ["payments:write", "payments:read", "reports:read"])


class LoseFirstAnswer(httpx.BaseTransport):
    """Delivers every request, but drops the first answer (the connection breaks on the way back)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward; raise ReadError instead of the first response."""
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if len(self.requests) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_initiate_get_and_replay(api_url: str, token: str, merchant: str) -> None:
    """A payment is created, read back, and the same key replays it instead of a second one."""
    with SyncCash(api_url, api_key=token) as sc:
        created = sc.initiate_payment(
            "12.50", PAYER, merchant_account=merchant, reference="o-1", idempotency_key="o-1"
        )
        again = sc.initiate_payment(
            "12.50", PAYER, merchant_account=merchant, reference="o-1", idempotency_key="o-1"
        )
        fetched = sc.get_payment(created.id)
        status = sc.payment_status(created.id)
    assert Decimal("12.50") == created.amount
    assert created.id == again.id == fetched.id == status.id
    assert fetched.currency == "GHS"
    assert fetched.reference == "o-1"


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_payment(
    api_url: str, token: str, merchant: str
) -> None:
    """The first answer is lost after the API stored the payment; the retry replays it."""
    transport = LoseFirstAnswer()
    http = httpx.Client(base_url=api_url, transport=transport, timeout=10)
    with SyncCash(api_url, api_key=token, http=http, backoff_base_s=0.01) as sc:
        payment = sc.initiate_payment("3.00", PAYER, merchant_account=merchant)
        page = sc.list_payments()
    keys = {r.headers["Idempotency-Key"] for r in transport.requests if r.method == "POST"}
    assert len(keys) == 1
    assert [payment.id] == [p.id for p in page.items]


def test_problems_are_typed_exceptions_with_the_stable_code(
    api_url: str, token: str, merchant: str
) -> None:
    """Bad MSISDN -> InvalidRequestError(invalid_msisdn); unknown id -> NotFoundError; bad token."""
    with SyncCash(api_url, api_key=token) as sc:
        with pytest.raises(InvalidRequestError) as bad:
            sc.initiate_payment("1.00", "12345", merchant_account=merchant)
        with pytest.raises(NotFoundError) as missing:
            sc.get_payment("no-such-payment")
    with SyncCash(api_url, api_key="not-a-token") as sc, pytest.raises(AuthenticationError):
        sc.list_payments()
    assert bad.value.status == 422
    assert bad.value.code == "invalid_msisdn"
    assert missing.value.code == "payment_not_found"


def test_floats_never_become_amounts(api_url: str, token: str) -> None:
    """A float amount is refused before anything is sent."""
    with SyncCash(api_url, api_key=token) as sc, pytest.raises(TypeError):
        sc.initiate_payment(12.5, PAYER, merchant_account="shop")  # type: ignore[arg-type]


def test_iter_payments_walks_every_page(api_url: str, token: str, merchant: str) -> None:
    """Five payments, pages of two: the iterator yields all five, newest first, once each."""
    with SyncCash(api_url, api_key=token) as sc:
        ids = [
            sc.initiate_payment(f"{n}.00", PAYER, merchant_account=merchant).id for n in range(1, 6)
        ]
        seen = [p.id for p in sc.iter_payments(limit=2)]
    assert sorted(ids) == sorted(seen)
    assert len(seen) == len(set(seen))


def test_cancel_before_anything_is_at_a_provider(api_url: str, token: str, merchant: str) -> None:
    """With no worker running, the payment is still cancellable."""
    with SyncCash(api_url, api_key=token) as sc:
        payment = sc.initiate_payment("2.00", PAYER, merchant_account=merchant)
        cancelled = sc.cancel_payment(payment.id)
    assert cancelled.state == "CANCELLED"
    assert cancelled.is_final


def test_no_answer_at_all_is_a_transport_error() -> None:
    """Nothing listening: TransportError after the retries, not an httpx exception."""
    with (
        SyncCash("http://127.0.0.1:9", api_key="t", backoff_base_s=0.01) as sc,
        pytest.raises(TransportError),
    ):
        sc.list_payments()


async def test_async_client_does_the_same(api_url: str, token: str, merchant: str) -> None:
    """The async client creates, reads and lists through the same wire rules."""
    async with AsyncSyncCash(api_url, api_key=token) as sc:
        created = await sc.initiate_payment("7.25", PAYER, merchant_account=merchant)
        fetched = await sc.get_payment(created.id)
        listed = [p.id async for p in sc.iter_payments(limit=1)]
    assert Decimal("7.25") == fetched.amount
    assert [created.id] == listed


def test_verify_signature_accepts_what_the_server_signs() -> None:
    """The server's signing and the SDK's check agree; tampering and old timestamps fail."""
    body = b'{"id":"e1","type":"payment.confirmed"}'
    header = sign("s3cret", 1_767_261_600, body)
    verify_signature("s3cret", header, body, now=1_767_261_610)
    with pytest.raises(WebhookVerificationError):
        verify_signature("s3cret", header, body + b" ", now=1_767_261_610)
    with pytest.raises(WebhookVerificationError):
        verify_signature("other", header, body, now=1_767_261_610)
    with pytest.raises(WebhookVerificationError):
        verify_signature("s3cret", header, body, now=1_767_261_600 + 301)


def _standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, Any]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(mac).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_verify_standard_matches_the_specification_example() -> None:
    """The Standard Webhooks specification's published example verifies; a changed byte fails."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert headers == _standard(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    verify_standard(secret, headers, body, now=1614265330)
    with pytest.raises(WebhookVerificationError):
        verify_standard(secret, headers, b'{"test": 2432232315}', now=1614265330)
    rotated = {**headers, "webhook-signature": "v1,bm90LWl0 " + headers["webhook-signature"]}
    verify_standard(secret, rotated, body, now=1614265330)
