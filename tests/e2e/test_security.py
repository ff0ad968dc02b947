"""Security checks against the live stack over real HTTP (API, worker, sandboxes; PostgreSQL, Redis).

Tokens (missing, malformed, expired, forged, alg none, wrong scope), merchant isolation,
the rate limit under a burst, oversized bodies, callbacks that are garbage or lies, and
finally the logs of the whole e2e session: no full MSISDN, no token, no provider secret.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import jwt
import pytest

from synccash.api.auth import Scope
from synccash.chaos import scan_logs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PAYMENT_ID = "01a20000-0000-7000-8000-000000000000"  # shape of an id; belongs to nobody
#: (method, path, needed scope, JSON body) of every merchant endpoint.
ENDPOINTS = [
    ("POST", "/api/v1/payments/initiate", Scope.PAYMENTS_WRITE, {"amount": "1.00"}),
    ("GET", "/api/v1/payments", Scope.PAYMENTS_READ, None),
    ("GET", f"/api/v1/payments/{PAYMENT_ID}", Scope.PAYMENTS_READ, None),
    ("GET", f"/api/v1/payments/{PAYMENT_ID}/status", Scope.PAYMENTS_READ, None),
    ("POST", f"/api/v1/payments/{PAYMENT_ID}/cancel", Scope.PAYMENTS_WRITE, None),
    ("POST", f"/api/v1/payments/{PAYMENT_ID}/refund", Scope.PAYMENTS_WRITE, None),
    ("POST", "/api/v1/routing/quote", Scope.PAYMENTS_READ, {"amount": "1.00"}),
    ("GET", "/api/v1/reports/daily", Scope.REPORTS_READ, None),
]
ENDPOINT_IDS = [f"{m} {p.replace(PAYMENT_ID, '{id}')}" for m, p, _, _ in ENDPOINTS]


@pytest.fixture(scope="module")
def http(live) -> Iterator[httpx.Client]:
    """A client on the live API."""
    with httpx.Client(base_url=live.api_url, timeout=15) as client:
        yield client


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(live, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "sec-merchant",
        "merchant_id": "sec-merchant",
        "scope": " ".join(s.value for s in Scope),
        "iss": live.settings.jwt_issuer,
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def bad_tokens(live) -> dict[str, str | None]:
    """Authorization header values that must all be refused with 401."""
    claims = _claims(live)
    expired = _claims(live, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    return {
        "missing": None,
        "not bearer": f"Basic {base64.b64encode(b'merchant:secret').decode()}",
        "empty bearer": "Bearer",
        "malformed": "Bearer not.a.jwt",
        "expired": "Bearer " + jwt.encode(expired, live.settings.jwt_secret_key, "HS256"),
        "forged": "Bearer " + jwt.encode(claims, "another-key-" + "x" * 40, "HS256"),
        "alg none": "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "wrong issuer": "Bearer "
        + jwt.encode({**claims, "iss": "evil"}, live.settings.jwt_secret_key, "HS256"),
    }


def _call(
    http: httpx.Client, method: str, path: str, auth: str | None, body: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": f"sec-{uuid.uuid4().hex}"}
    if auth is not None:
        headers["Authorization"] = auth
    return http.request(method, path, headers=headers, json=body)


def _is_problem(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/problem+json")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_merchant_endpoint_refuses_bad_tokens(live, http, endpoint):
    """Missing, malformed, expired, forged, alg-none and wrong-issuer tokens all get 401."""
    method, path, _, body = endpoint
    answers = {
        name: _call(http, method, path, auth, body) for name, auth in bad_tokens(live).items()
    }
    seen = {name: (r.status_code, _is_problem(r)) for name, r in answers.items()}
    assert seen == dict.fromkeys(answers, (401, True))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_merchant_endpoint_refuses_a_token_without_its_scope(live, http, endpoint):
    """A valid token lacking the endpoint's scope gets 403."""
    method, path, scope, body = endpoint
    others = [s for s in Scope if s is not scope]
    response = _call(http, method, path, "Bearer " + live.token("sec-merchant", others), body)
    assert (response.status_code, _is_problem(response)) == (403, True)


def _initiate(
    http: httpx.Client, token: str, merchant: str, payer: str, amount: str = "5.00"
) -> str:
    """Collect into the merchant's own account (the only one it may collect into)."""
    response = http.post(
        "/api/v1/payments/initiate",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        json={
            "amount": amount,
            "payer": {"msisdn": payer},
            "payee": {"merchant_account": merchant},
        },
    )
    assert response.status_code == 202, response.text
    payment_id: str = response.json()["id"]
    return payment_id


def test_a_merchant_cannot_collect_into_another_merchants_account(live, http):
    """shop-99 naming shop-42 as the payee account: 403 payee_account_not_allowed, nothing stored."""
    token = live.token("shop-99")
    response = http.post(
        "/api/v1/payments/initiate",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        json={
            "amount": "5.00",
            "payer": {"msisdn": "0245550009"},
            "payee": {"merchant_account": "shop-42"},
        },
    )
    assert (response.status_code, response.json()["code"]) == (403, "payee_account_not_allowed")
    listed = http.get("/api/v1/payments", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["items"] == []


def test_a_merchant_cannot_see_or_touch_another_merchants_payment(live, http):
    """Merchant B gets 404 reading, cancelling or refunding merchant A's payment."""
    owner, other = live.token("merchant-a"), live.token("merchant-b")
    payment_id = _initiate(http, owner, "merchant-a", "0245550001")
    intruder = {"Authorization": f"Bearer {other}", "Idempotency-Key": "intrude-1"}
    statuses = [
        http.get(f"/api/v1/payments/{payment_id}", headers=intruder).status_code,
        http.get(f"/api/v1/payments/{payment_id}/status", headers=intruder).status_code,
        http.post(f"/api/v1/payments/{payment_id}/cancel", headers=intruder).status_code,
        http.post(f"/api/v1/payments/{payment_id}/refund", headers=intruder).status_code,
    ]
    listed = http.get("/api/v1/payments", headers=intruder).json()["items"]
    owner_view = http.get(
        f"/api/v1/payments/{payment_id}/status", headers={"Authorization": f"Bearer {owner}"}
    )
    assert (statuses, [p["id"] for p in listed]) == ([404, 404, 404, 404], [])
    assert owner_view.json()["state"] != "CANCELLED"


async def test_the_rate_limit_holds_under_a_burst(live):
    """A burst far above the bucket gets 429s, and never more 2xx than burst + refill allows."""
    headers = {"Authorization": f"Bearer {live.token('burst-merchant')}"}
    statuses: Counter[int] = Counter()
    burst, per_second = live.settings.rate_limit_burst, live.settings.rate_limit_per_second
    requests = burst * 4
    async with httpx.AsyncClient(
        base_url=live.api_url, timeout=30, limits=httpx.Limits(max_connections=50)
    ) as client:

        async def one() -> None:
            response = await client.get("/api/v1/payments?limit=1", headers=headers)
            statuses[response.status_code] += 1

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(requests):
                tg.start_soon(one)
        elapsed = time.monotonic() - started
    allowed = burst + per_second * elapsed
    assert statuses[429] > 0, (statuses, elapsed)
    assert statuses[200] <= allowed + 1, (statuses, elapsed)
    assert statuses[200] + statuses[429] == requests, statuses


def _raw_post(live, path: str, head_lines: list[str], body: bytes, timeout: float) -> bytes:
    host, port = live.api_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        head = "\r\n".join([f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *head_lines])
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_an_oversized_body_is_refused_before_it_is_read(live):
    """A 100 MB Content-Length gets 413 problem+json at once, without sending the body."""
    started = time.monotonic()
    answer = _raw_post(
        live,
        "/api/v1/payments/initiate",
        [
            f"Authorization: Bearer {live.token('big-merchant')}",
            "Idempotency-Key: big-1",
            "Content-Type: application/json",
            "Content-Length: 100000000",
        ],
        b'{"amount": "',
        timeout=10,
    )
    status_line, _, rest = answer.partition(b"\r\n")
    assert (status_line.split()[1], b"application/problem+json" in rest.lower()) == (b"413", True)
    assert time.monotonic() - started < 10


def test_an_oversized_chunked_body_is_refused(live, http):
    """Without a Content-Length, the body is cut off at the limit with 413."""
    limit = live.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"amount": "1.00", "description": "'
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    response = http.post(
        "/api/v1/payments/initiate",
        headers={"Authorization": f"Bearer {live.token('big-merchant')}", "Idempotency-Key": "b2"},
        content=chunks(),
    )
    assert (response.status_code, _is_problem(response)) == (413, True)


def _callback_counts(http: httpx.Client) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("synccash_callbacks_total{"):
            labels = dict(
                part.split("=", 1)
                for part in line[line.index("{") + 1 : line.index("}")].split(",")
            )
            key = (labels["provider"].strip('"'), labels["outcome"].strip('"'))
            counts[key] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def test_garbage_and_unknown_callbacks_are_acknowledged_and_ignored(http):
    """Unknown references, wrong shapes, non-JSON and unknown providers: 200, counted as ignored."""
    before = _callback_counts(http)
    unknown = str(uuid.uuid4())
    sent = [
        http.post(f"/api/v1/callbacks/mtn/{unknown}", json={"status": "SUCCESSFUL"}),
        http.post("/api/v1/callbacks/airteltigo", json={"transaction": {"id": unknown}}),
        http.post("/api/v1/callbacks/telecel", json={"Data": {"ClientReference": unknown}}),
        http.post("/api/v1/callbacks/mtn/x", content=b"\x00not json\xff"),
        http.post("/api/v1/callbacks/telecel", json=[1, 2, 3]),
        http.put("/api/v1/callbacks/visa/abc", json={"status": "SUCCESSFUL"}),
    ]
    after = _callback_counts(http)
    ignored = sum(
        after[key] - before[key]
        for key in after
        if key[1] in ("unknown_reference", "unreadable", "rejected")
    )
    queued = sum(after[key] - before[key] for key in after if key[1] == "queued")
    assert ([r.status_code for r in sent], ignored, queued) == ([200] * 6, 6, 0)


def _detail(http: httpx.Client, token: str, payment_id: str) -> dict[str, Any]:
    response = http.get(
        f"/api/v1/payments/{payment_id}", headers={"Authorization": f"Bearer {token}"}
    )
    detail: dict[str, Any] = response.json()
    return detail


def _wait_for(http, token, payment_id, states: set[str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        detail = _detail(http, token, payment_id)
        if detail["state"] in states and detail.get("attempts"):
            return detail
        if time.monotonic() > deadline:
            pytest.fail(f"{payment_id} stayed {detail['state']} (wanted {states})")
        time.sleep(0.5)


def _forge_success(http: httpx.Client, provider: str, reference: str, amount: str) -> None:
    forged = {
        "mtn": (
            f"/api/v1/callbacks/mtn/{reference}",
            {
                "financialTransactionId": "999999999",
                "externalId": reference,
                "amount": amount,
                "currency": "GHS",
                "payer": {"partyIdType": "MSISDN", "partyId": "233240000004"},
                "status": "SUCCESSFUL",
            },
        ),
        "airteltigo": (
            "/api/v1/callbacks/airteltigo",
            {"transaction": {"id": reference, "airtel_money_id": "MP1", "status_code": "TS"}},
        ),
    }[provider]
    response = http.post(forged[0], json=forged[1])
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("provider", "payer", "wait_state"),
    [
        ("mtn", "0240000004", {"PROCESSING"}),  # the payer never answers: pending at MTN
        ("airteltigo", "0260000004", {"PROCESSING"}),
        ("mtn", "0240000001", {"FAILED"}),  # the payer rejected it
    ],
)
def test_a_forged_success_callback_does_not_confirm_a_payment(
    live, http, provider, payer, wait_state
):
    """The worker asks the provider; the provider says pending/failed; nothing is CONFIRMED."""
    merchant = f"forge-{provider}-{payer}"
    token = live.token(merchant)
    payment_id = _initiate(http, token, merchant, payer, "7.00")
    detail = _wait_for(http, token, payment_id, wait_state)
    attempt = detail["attempts"][-1]
    before = _callback_counts(http)[(provider, "queued")]
    _forge_success(http, provider, attempt["reference"], "7.00")
    # a status check was queued (the provider's own callbacks for other payments may add more)
    assert _callback_counts(http)[(provider, "queued")] >= before + 1
    time.sleep(4)  # let the worker ask the provider
    after = _detail(http, token, payment_id)
    ledger = httpx.get(f"{live.sandbox_url}/{provider}/_admin/ledger").json()["entries"]
    debits = [e for e in ledger if e["reference"] == attempt["reference"]]
    assert (after["state"], debits) == (detail["state"], [])


def test_a_callback_flood_for_one_attempt_queues_one_status_check(live, http):
    """300 forged MTN callbacks for one PROCESSING attempt: all 200, one queued, 299 coalesced."""
    merchant = "flood-mtn"
    token = live.token(merchant)
    payment_id = _initiate(http, token, merchant, "0240000004", "7.00")  # the payer never answers
    reference = _wait_for(http, token, payment_id, {"PROCESSING"})["attempts"][-1]["reference"]
    before = _callback_counts(http)
    answers = {
        http.put(f"/api/v1/callbacks/mtn/{reference}", json={"status": "SUCCESSFUL"}).status_code
        for _ in range(300)
    }
    after = _callback_counts(http)
    coalesced = after[("mtn", "coalesced")] - before[("mtn", "coalesced")]
    assert ({200}, 299) == (answers, coalesced)


def test_the_e2e_logs_hold_no_msisdn_token_or_secret(live):
    """Every log line the API and worker wrote in this session is free of secrets (runs last)."""
    files = live.log_files()
    assert all(f.exists() and f.stat().st_size > 0 for f in files), files
    assert scan_logs(files, secrets=[live.settings.jwt_secret_key]) == []
