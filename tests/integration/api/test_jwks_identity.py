"""External identity: tokens signed by keys this test generates, served by its own JWKS server
on loopback (EdDSA, ES256, RS256), key rotation, rate-limited refetch, and HS256 behind a setting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import wire
from synccash.adapters.settings import Settings
from synccash.api import create_app, mint_token
from synccash.api.jwks import JwksKeys

pytestmark = pytest.mark.integration

ISSUER = "https://id.merchant-auth.test"
AUDIENCE = "synccash-api"
SECRET = "jwks-test-shared-secret-0123456789abcdef"


class JwksServer:
    """A real HTTP server on loopback, in its own thread, answering GETs with the current JWKS.

    Its own thread: the API under test may be driven from a blocking portal, which would
    starve a server running on the test's event loop.
    """

    def __init__(self) -> None:
        """No keys yet."""
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
                """Quiet."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        """The JWKS URL."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"


def public_jwk(kid: str, private: Any, alg: str) -> dict[str, Any]:
    """The public JWK of a private key."""
    codec = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm}[alg]
    jwk: dict[str, Any] = json.loads(codec.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def token(private: Any, alg: str, kid: str, **claims: Any) -> str:
    """An identity-service token for merchant shop-42 (claims override the defaults)."""
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "merchant_id": "shop-42",
        "scope": "payments:read",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(body, private, algorithm=alg, headers={"kid": kid})


KEYS = {
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


@asynccontextmanager
async def jwks_server() -> AsyncIterator[tuple[JwksServer, str]]:
    """The JWKS server with one key per algorithm, for the block."""
    jwks = JwksServer()
    jwks.keys = [public_jwk(f"k-{alg}", key, alg) for alg, key in KEYS.items()]
    thread = threading.Thread(target=jwks.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks, jwks.url
    finally:
        jwks.httpd.shutdown()
        jwks.httpd.server_close()
        thread.join(timeout=5)


def settings(url: str, **extra: str) -> Settings:
    """Settings with the identity service configured."""
    return Settings.from_env(
        {
            "JWT_SECRET_KEY": SECRET,
            "AUTH_JWKS_URL": url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            **extra,
        }
    )


@asynccontextmanager
async def api() -> AsyncIterator[Any]:
    """A client of the API configured for the identity service (and its JWKS server)."""
    async with jwks_server() as (_, url):
        config = settings(url)
        async with AsyncTestClient(app=create_app(wire(config))) as client:
            yield client


async def status(client: Any, credential: str) -> tuple[int, str | None]:
    """Status and problem code of listing payments with this bearer credential."""
    response = await client.get(
        "/api/v1/payments", headers={"Authorization": f"Bearer {credential}"}
    )
    code = response.json().get("code") if response.status_code != 200 else None
    return response.status_code, code


@pytest.mark.parametrize("alg", sorted(KEYS))
async def test_tokens_of_each_algorithm_are_accepted(alg):
    """EdDSA (Ed25519), ES256 and RS256 tokens verified through the JWKS."""
    async with api() as client:
        assert await status(client, token(KEYS[alg], alg, f"k-{alg}")) == (200, None)


async def test_wrong_issuer_audience_expiry_key_or_algorithm_is_401():
    """Each is refused; a token signed by a key not in the JWKS too."""
    stranger = ed25519.Ed25519PrivateKey.generate()
    now = int(time.time())
    cases = [
        token(KEYS["EdDSA"], "EdDSA", "k-EdDSA", iss="https://evil.test"),
        token(KEYS["EdDSA"], "EdDSA", "k-EdDSA", aud="someone-else"),
        token(KEYS["ES256"], "ES256", "k-ES256", iat=now - 600, exp=now - 60),
        token(stranger, "EdDSA", "k-EdDSA"),  # right kid, wrong key
        token(KEYS["RS256"], "RS256", "k-ES256"),  # kid of another algorithm's key
        jwt.encode({"merchant_id": "shop-42", "exp": now + 60}, None, algorithm="none"),
    ]
    async with api() as client:
        results = [await status(client, t) for t in cases]
    assert [s for s, _ in results] == [401] * len(cases)
    assert results[2][1] == "token_expired"


async def test_hs256_is_refused_once_an_identity_service_is_set_unless_enabled():
    """JWT_HS256_ENABLED defaults to off with AUTH_JWKS_URL; true turns shared secrets back on."""
    for extra, expected in (({}, 401), ({"JWT_HS256_ENABLED": "true"}, 200)):
        config = settings("http://127.0.0.1:9/jwks.json", **extra)
        async with AsyncTestClient(app=create_app(wire(config))) as client:
            got, _ = await status(client, mint_token(config, "shop-42"))
        assert (extra, got) == (extra, expected)


async def test_rotation_is_followed_and_unknown_kids_refetch_at_most_once_per_window():
    """A new kid after rotation is fetched; a flood of made-up kids costs one request per window."""
    now = [1000.0]
    async with jwks_server() as (jwks, url), httpx.AsyncClient() as client:
        keys = JwksKeys(url, client, min_refetch_s=30, clock=lambda: now[0])
        assert await keys.key("k-EdDSA") is not None
        assert jwks.requests == 1
        fresh = ed25519.Ed25519PrivateKey.generate()
        jwks.keys = [public_jwk("k-2", fresh, "EdDSA")]  # the identity service rotated
        for n in range(50):
            assert await keys.key(f"made-up-{n}") is None
        assert jwks.requests == 1  # within the window: no refetch
        now[0] += 31
        assert await keys.key("k-2") is not None  # unknown kid after the window: refetched
        assert jwks.requests == 2
        assert await keys.key("k-EdDSA") is None  # the retired key is gone


async def test_hs256_tokens_carry_our_kid_and_a_bounded_lifetime():
    """Minted tokens name JWT_KEY_ID; another kid or a lifetime above the maximum is refused."""
    config = settings(
        "http://127.0.0.1:9/jwks.json", JWT_HS256_ENABLED="true", JWT_MAX_TTL_SECONDS="3600"
    )
    minted = mint_token(config, "shop-42", ttl_seconds=600)
    assert jwt.get_unverified_header(minted)["kid"] == "synccash-dev"
    now = int(time.time())
    claims = {"merchant_id": "shop-42", "iss": "synccash", "iat": now, "scope": "payments:read"}
    other_kid = jwt.encode(
        {**claims, "exp": now + 60}, SECRET, algorithm="HS256", headers={"kid": "old"}
    )
    too_long = jwt.encode({**claims, "exp": now + 7200}, SECRET, algorithm="HS256")
    async with AsyncTestClient(app=create_app(wire(config))) as client:
        assert await status(client, minted) == (200, None)
        assert (await status(client, other_kid))[0] == 401
        assert await status(client, too_long) == (401, "token_lifetime_too_long")
