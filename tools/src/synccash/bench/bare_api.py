"""The framework limit for bench-api: a bare Litestar + asyncpg initiate endpoint.

POST /api/v1/payments/initiate here does the durable work of the real initiate and
nothing else: decode the JSON body, send the repository's own new-payment statement
(payment + first event + outbox row in one INSERT ... WITH, compiled once by
`synccash.adapters.sql.compile_new_payment`) on one asyncpg pool, XADD the task to a Redis
stream, answer 202 with a small JSON body. No authentication, rate limit, idempotency lock,
validation, domain model, logs or metrics: what is left is Litestar, uvicorn, asyncpg and
the Redis client, so the real API's rate divided by this one is the share the application
keeps. The XADD goes through the same pipelined connection the real API's queue uses
(`LeanRedis`, ~0.1 ms of CPU less than a redis-py command), so the two differ by what the
application does, not by their Redis driver.

Run by uvicorn exactly as the real app (`synccash.bench.bare_api:create_app --factory`);
DATABASE_URL and REDIS_URL come from the environment as for the API.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg
import msgspec
from litestar import Litestar, Request, Response, get, post
from redis.asyncio import Redis
from sqlalchemy import Dialect
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.engine import make_url

from synccash.adapters.engines.resp import LeanRedis
from synccash.adapters.sql import compile_new_payment, new_payment_params
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Payment, Wallet
from synccash.core.providers import ProviderId

STREAM: Final = "synccash:bench:bare-tasks"
_TTL: Final = timedelta(minutes=15)


class _NoReset(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset round trip.

    The statement runs in autocommit and leaves no session state behind, and the real
    app's SQLAlchemy pool does not pay that round trip either.
    """

    def get_reset_query(self) -> str:
        return ""


def _template() -> tuple[str, list[Any], dict[str, int]]:
    """The statement, a sample argument list and the positions of the per-request values."""
    now = datetime.now(UTC)
    payer = Msisdn.parse("0241234567")
    sample = Payment.initiate(
        payment_id="sample",
        merchant_id="bench-merchant",
        amount=Money(1250),
        payer=payer,
        wallets=(Wallet(ProviderId.MTN, payer, Money(50_000)),),
        payee=Payee(msisdn=Msisdn.parse("0551234567")),
        now=now,
        expires_at=now + _TTL,
        description="bench",
        reference="bench",
        metadata={},
        webhook_url=None,
        idempotency_key="sample",
        fingerprint="sample",
    )
    dialect: Dialect = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]
    compiled = compile_new_payment(dialect, 0, len(sample.new_events))
    args = list(compiled.bind(new_payment_params(sample, sample.new_events)))
    return compiled.sql, args, {name: i for i, name in enumerate(compiled.names)}


_SQL, _ARGS, _AT = _template()
_TIMES: Final = tuple(
    _AT[n] for n in ("p_created_at", "p_updated_at", "p_next_action_at", "e0_at", "o0_created_at")
)
_PAYMENT_IDS: Final = (_AT["p_id"], _AT["e0_payment_id"], _AT["o0_payment_id"])


def _minor(amount: str) -> int:
    """ "12.50" -> 1250 (integer pesewas, no float)."""
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


@post("/api/v1/payments/initiate", status_code=202)
async def initiate(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Insert the payment, its event and outbox row; queue its task; answer 202."""
    body = msgspec.json.decode(await request.body())
    key = request.headers.get("idempotency-key") or uuid.uuid4().hex
    payment_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    args = list(_ARGS)
    for i in _PAYMENT_IDS:
        args[i] = payment_id
    for i in _TIMES:
        args[i] = now
    args[_AT["p_expires_at"]] = now + _TTL
    args[_AT["p_idempotency_key"]] = key
    args[_AT["p_amount_minor"]] = _minor(body["amount"])
    args[_AT["o0_id"]] = str(uuid.uuid4())
    args[_AT["o0_payload"]] = msgspec.json.encode(
        {"payment_id": payment_id, "seq": 1, "type": "payment.initiated", "at": now.isoformat()}
    ).decode()
    state = request.app.state
    async with state.pool.acquire() as conn:
        await conn.execute(_SQL, *args)
    await state.lean.execute(
        "XADD", STREAM, "*", "kind", "advance", "payment_id", payment_id, "hint", ""
    )
    return Response(
        msgspec.json.encode({"payment_id": payment_id, "state": "INITIATED"}),
        status_code=202,
        media_type="application/json",
    )


@get("/health")
async def health() -> dict[str, str]:
    """Ready once the lifespan opened the pool."""
    return {"status": "ok"}


def create_app() -> Litestar:
    """The bare app; its lifespan opens the asyncpg pool and the Redis client."""
    url = make_url(os.environ["DATABASE_URL"])
    pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "20"))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            min_size=1,  # opened as needed, as the app's pool
            max_size=pool_size,
            connection_class=_NoReset,
        )
        redis = Redis.from_url(os.environ["REDIS_URL"], max_connections=256)
        lean = LeanRedis.from_client(redis)
        if lean is None:
            raise RuntimeError("bench-api's bare endpoint needs a plain redis:// REDIS_URL")
        app.state.pool, app.state.redis, app.state.lean = pool, redis, lean
        try:
            yield
        finally:
            lean.close()
            await redis.aclose()
            await pool.close()

    return Litestar(route_handlers=[initiate, health], lifespan=[lifespan], logging_config=None)
