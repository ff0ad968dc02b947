"""Idempotency-Key handling: header checks, request fingerprints and the in-flight lock.

The stored payment (unique per merchant and key) makes a replay return the same
payment; the short lock here makes a second request that arrives while the
first is still running a 409 instead of a race. The database's unique key, not the lock,
guarantees one payment per key, so the lock can be short: a request that died holding it
(an API killed mid-request) blocks its key for at most LOCK_TTL_MS, and a payment it
committed before dying is answered as a replay at once (the initiate route looks it up
when the lock is busy).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import msgspec
from attrs import define

from synccash.adapters.coordination import Locks
from synccash.api.problems import RequestProblem
from synccash.core.errors import IdempotencyKeyInFlight

_encode_sorted: Final = msgspec.json.Encoder(order="sorted").encode

HEADER: Final = "Idempotency-Key"
MAX_KEY_LENGTH: Final = 255
#: Far above a request's own time (milliseconds), short enough that a key whose request
#: died before committing is free again while its client still retries.
LOCK_TTL_MS: Final = 5_000
#: Request-state key of the AdmittedLock `synccash.api.guards.admit` tried.
ADMITTED_LOCK: Final = "synccash_admitted_lock"


def require_key(raw: str | None) -> str:
    """The Idempotency-Key header value, or a 400 problem when missing or too long."""
    if raw is None or not raw.strip():
        raise RequestProblem(
            400, "idempotency_key_missing", f"the {HEADER} header is required on this request"
        )
    key = raw.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise RequestProblem(
            400,
            "idempotency_key_invalid",
            f"the {HEADER} header must be at most {MAX_KEY_LENGTH} characters",
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 hex of method, path and the canonical JSON body (key order and spacing ignored)."""
    try:
        canonical = _canonical(msgspec.json.decode(body or b"null"))
    except (msgspec.DecodeError, RecursionError):
        canonical = body
    return _digest(method, path, canonical)


def fingerprint_decoded(method: str, path: str, decoded: Any) -> str:
    """`fingerprint` of a body already decoded from JSON (the same digest, one decode less)."""
    return _digest(method, path, _canonical(decoded))


def _canonical(decoded: Any) -> bytes:
    return _encode_sorted(decoded)


def _digest(method: str, path: str, canonical: bytes) -> str:
    return hashlib.sha256(
        b"%s\n%s\n%s\n" % (method.upper().encode(), path.encode(), canonical)
    ).hexdigest()


def lock_name(merchant_id: str, key: str) -> str:
    """The name of the in-flight lock of (merchant, Idempotency-Key)."""
    return "idem:" + hashlib.sha256(f"{merchant_id}\n{key}".encode()).hexdigest()


@define
class AdmittedLock:
    """The in-flight lock admission tried together with the rate limit (one Redis command).

    `token` is None when another request holds it. The handler claims it through
    `in_flight(..., admitted=...)`; if the request fails before that (body validation),
    the access-log wrapper releases it, so a rejected request never keeps the key busy.
    """

    locks: Locks
    name: str
    token: str | None
    claimed: bool = False

    async def release_unclaimed(self) -> None:
        """Release the lock unless a handler claimed it (and so releases it itself)."""
        if not self.claimed and self.token is not None:
            self.claimed = True
            await self.locks.release(self.name, self.token)


@asynccontextmanager
async def in_flight(
    locks: Locks, merchant_id: str, key: str, admitted: AdmittedLock | None = None
) -> AsyncIterator[None]:
    """Hold the (merchant, key) lock for the request, or raise IdempotencyKeyInFlight.

    With `admitted` (the same lock, already tried at admission) no second attempt is made.
    """
    name = lock_name(merchant_id, key)
    if admitted is not None and admitted.name == name and not admitted.claimed:
        admitted.claimed = True
        token = admitted.token
    else:
        token = await locks.try_lock(name, LOCK_TTL_MS)
    if token is None:
        raise IdempotencyKeyInFlight(
            "a request with this Idempotency-Key is still being processed; retry shortly"
        )
    try:
        yield
    finally:
        await locks.release(name, token)
