"""MultiProviderGateway dispatch, build_gateway wiring, and the shared wire helpers."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal

import httpx
import pytest
import structlog
from provider_fakes import SECRETS, FakeProvider, at_key_answer, jresp
from provider_fakes import attempt as make_attempt

from synccash.adapters.providers import (
    AIRTEL_CODES,
    MTN_CODES,
    TELECEL_CODES,
    MultiProviderGateway,
    build_gateway,
)
from synccash.adapters.providers._http import encode_json, retry_after_seconds
from synccash.adapters.providers._table import BOTH, Operation, OutcomeTable, Rule
from synccash.adapters.settings import Settings
from synccash.core.errors import UnknownProvider
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.ports import ProviderGateway
from synccash.core.providers import ProviderId


def secret_settings() -> Settings:
    """Settings whose every secret is one of the canary strings."""
    return Settings.from_env(
        {
            "MTN_BASE_URL": "https://mtn.test",
            "MTN_COLLECTION_API_KEY": SECRETS[0],
            "MTN_COLLECTION_SUBSCRIPTION_KEY": SECRETS[1],
            "MTN_DISBURSEMENT_API_KEY": SECRETS[0],
            "MTN_DISBURSEMENT_SUBSCRIPTION_KEY": SECRETS[1],
            "AIRTELTIGO_BASE_URL": "https://at.test",
            "AIRTELTIGO_CLIENT_SECRET": SECRETS[2],
            "TELECEL_BASE_URL": "https://tc.test",
            "TELECEL_CLIENT_SECRET": SECRETS[3],
            "PUBLIC_BASE_URL": "https://pay.example",
        }
    )


async def test_build_gateway_dispatches_by_provider(fake):
    """One shared client: each provider's calls go to its own base URL from settings."""
    fake.on("POST", "/collection/token/", jresp(200, {"access_token": "t", "expires_in": 3600}))
    fake.on("POST", "/collection/v1_0/requesttopay", httpx.Response(202))
    fake.on("POST", "/auth/oauth2/token", jresp(200, {"access_token": "t", "expires_in": "180"}))
    fake.on("GET", "/v1/rsa/encryption-keys", at_key_answer())
    fake.on(
        "POST",
        "/merchant/v1/payments/",
        jresp(200, {"data": {}, "status": {"response_code": "DP00800001006", "success": True}}),
    )
    fake.on(
        "POST",
        "/merchantaccount/merchants/2017101/receive/mobilemoney",
        jresp(200, {"ResponseCode": "0001", "Data": {}}),
    )
    gateway: ProviderGateway = build_gateway(secret_settings(), fake.client())
    for provider in ProviderId:
        outcome = await gateway.submit(make_attempt(provider=provider))
        assert outcome.kind is OutcomeKind.PENDING
    hosts = {r.url.host for r in fake.requests}
    assert hosts == {"mtn.test", "at.test", "tc.test"}


async def test_build_gateway_with_per_provider_clients_uses_their_base_url():
    """A per-provider client with its own base_url gets relative paths (embedded sandboxes)."""
    fakes = {p: FakeProvider() for p in ProviderId}
    fakes[ProviderId.TELECEL].on(
        "GET", "/telecel/transactions/2017101/status", jresp(404, {"responseCode": "4040"})
    )
    clients = {p: f.client(f"http://sandbox/{p.value}") for p, f in fakes.items()}
    gateway = build_gateway(secret_settings(), clients)
    outcome = await gateway.status(ProviderId.TELECEL, AttemptKind.COLLECT, "r")
    assert outcome.kind is OutcomeKind.NOT_FOUND
    assert fakes[ProviderId.TELECEL].requests[0].url.host == "sandbox"


async def test_gateway_without_client_raises_unknown_provider():
    """Asking a provider the gateway was not given is a configuration error."""
    gateway = MultiProviderGateway({})
    with pytest.raises(UnknownProvider):
        await gateway.lookup(ProviderId.MTN, Msisdn.parse("0241234567"))


async def test_secrets_never_in_outcomes_or_logs(fake, caplog):
    """Every failure path: no credential or token appears in outcomes, logs, exceptions or reprs."""
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Other tests (the CLI's) may have left a level filter configured: log everything here.
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    try:
        text = await _exercise_failures(fake, caplog)
    finally:
        structlog.reset_defaults()
    assert "mtn.submit" in text  # the logs did run
    settings = secret_settings()
    basic = [
        base64.b64encode(f"{c.user}:{c.secret}".encode()).decode()
        for c in (settings.mtn_collection, settings.mtn_disbursement, settings.telecel)
    ]
    for secret in (*SECRETS, *basic):
        assert secret not in text


async def _exercise_failures(fake, caplog) -> str:
    caplog.set_level(logging.DEBUG)
    token = {"access_token": SECRETS[4], "expires_in": 3600}
    fake.on("POST", "/collection/token/", jresp(200, token))
    fake.on(
        "POST",
        "/collection/v1_0/requesttopay",
        jresp(401, {}),
        jresp(500, {}),
        httpx.ReadTimeout(SECRETS[1]),
    )
    fake.on("POST", "/auth/oauth2/token", jresp(401, {"error": "invalid_client"}))
    fake.on(
        "POST",
        "/merchantaccount/merchants/2017101/receive/mobilemoney",
        httpx.ConnectError(f"refused {SECRETS[3]}"),
    )
    gateway = build_gateway(secret_settings(), fake.client())
    seen: list[str] = []
    for provider in ProviderId:
        for _ in range(2):
            outcome = await gateway.submit(make_attempt(provider=provider))
            seen.append(repr(outcome))
        seen.append(repr(await gateway.status(provider, AttemptKind.COLLECT, "r")))
        try:
            await gateway.lookup(provider, Msisdn.parse("0241234567"))
        except Exception as exc:
            seen.append(repr(exc) + str(exc))
        seen.append(repr(vars(gateway.client(provider))))
    seen.append(caplog.text)
    return "\n".join(seen)


def test_tables_cover_the_reference_codes():
    """The tables hold every code the reference names for each provider."""
    assert {
        "PAYER_NOT_FOUND", "NOT_ENOUGH_FUNDS", "APPROVAL_REJECTED", "EXPIRED",
        "INTERNAL_PROCESSING_ERROR", "SERVICE_UNAVAILABLE", "RESOURCE_ALREADY_EXIST",
        "RESOURCE_NOT_FOUND", "INVALID_CURRENCY", "COULD_NOT_PERFORM_TRANSACTION",
    } <= MTN_CODES.codes  # fmt: skip
    assert {
        f"DP008000010{n:02d}" for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 24, 25, 26, 29)
    } <= AIRTEL_CODES.codes
    assert {
        "0000",
        "0001",
        "0005",
        "2001",
        "2050",
        "4000",
        "4070",
        "4101",
        "4103",
        "5000",
    } <= TELECEL_CODES.codes


def test_duplicate_rule_is_rejected():
    """A table with two rows for one (operation, code) is a bug caught at import."""
    with pytest.raises(ValueError, match="duplicate"):
        OutcomeTable(
            "x",
            [
                Rule("A", OutcomeKind.PENDING, ops=BOTH),
                Rule("A", OutcomeKind.UNKNOWN, ops=frozenset({Operation.STATUS})),
            ],
        )


def test_encode_json_writes_decimals_exactly():
    """Decimals become exact JSON numbers, nested too; strings that look alike are untouched."""
    body = encode_json({"a": Decimal("12.50"), "b": [Decimal("0.10")], "c": "12.50"})
    assert body == b'{"a":12.50,"b":[0.10],"c":"12.50"}'


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
            10.0,
        ),
    ],
)
def test_retry_after(headers, expected):
    """Retry-After as delta seconds or HTTP date."""
    assert retry_after_seconds(httpx.Response(429, headers=headers)) == expected
