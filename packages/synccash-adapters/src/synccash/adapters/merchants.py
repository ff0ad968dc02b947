"""The merchant registry and merchants' API keys.

A merchant (id, name, status, the accounts it may collect into, free-form settings) is
registered by an operator (`synccash merchant create`). API keys belong to one merchant, carry
scopes and an optional expiry, and are shown once: only a keyed hash (HMAC-SHA256 with
`API_KEY_SECRET`) is stored, so a leaked database does not yield usable keys. A key reads
`sk_live_…` or `sk_test_…` (test: sandboxes), so a leaked one is recognisable (secret scanners)
and its mode is plain. Revoked, expired and disabled-merchant keys are refused.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from attrs import evolve, field, frozen

from synccash.core.errors import DomainError, ValidationError
from synccash.core.ports import Clock

KEY_PREFIXES: Final = ("sk_live_", "sk_test_")
_KEY_ALPHABET: Final = string.ascii_letters + string.digits
_KEY_LENGTH: Final = 40  # random characters after the prefix: ~238 bits
_MERCHANT_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class MerchantStatus(enum.StrEnum):
    """Whether a merchant may use the API."""

    ACTIVE = "active"
    DISABLED = "disabled"


class MerchantNotFound(DomainError):
    """No merchant with this id is registered."""

    code = "merchant_not_found"


class MerchantExists(ValidationError):
    """A merchant with this id is already registered."""

    code = "merchant_exists"


class ApiKeyNotFound(DomainError):
    """No API key with this id."""

    code = "api_key_not_found"


@frozen
class Merchant:
    """A registered merchant; `accounts` are its registered sub-accounts (payee accounts)."""

    id: str
    name: str
    status: MerchantStatus
    created_at: datetime
    accounts: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(factory=dict)

    @property
    def active(self) -> bool:
        """True unless disabled."""
        return self.status is MerchantStatus.ACTIVE

    def may_collect_into(self, account: str) -> bool:
        """A merchant collects only into itself or its registered sub-accounts."""
        return account in (self.id, *self.accounts)


def check_merchant_id(merchant_id: str) -> str:
    """The id if usable (letters, digits, `.`, `_`, `-`; at most 128), else ValidationError."""
    if not _MERCHANT_ID.match(merchant_id):
        msg = "merchant ids are 1-128 letters, digits, '.', '_' or '-', starting alphanumeric"
        raise ValidationError(msg, code="invalid_merchant_id")
    return merchant_id


@frozen
class ApiKey:
    """An API key's record (never the key itself): what it allows and its history."""

    id: str
    merchant_id: str
    prefix: str  # the first characters of the key, for recognising it in lists
    scopes: frozenset[str]
    created_at: datetime
    label: str = ""
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@frozen
class IssuedKey:
    """A new key: its record and the key itself, shown to the operator once."""

    record: ApiKey
    secret: str = field(repr=False)


class KeyStatus(enum.StrEnum):
    """The verdict on a presented API key."""

    VALID = "valid"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    MERCHANT_DISABLED = "merchant_disabled"


@frozen
class KeyCheck:
    """The verdict and, when known, the key's record and merchant."""

    status: KeyStatus
    key: ApiKey | None = None
    merchant: Merchant | None = None


class MerchantRegistry(Protocol):
    """Where merchants and API key records live (`SqlMerchantRegistry`, in memory for tests)."""

    async def add_merchant(self, merchant: Merchant) -> None:
        """Register a merchant; MerchantExists if the id is taken."""
        ...

    async def merchant(self, merchant_id: str) -> Merchant | None:
        """One merchant, or None."""
        ...

    async def merchants(self) -> Sequence[Merchant]:
        """Every merchant, by id."""
        ...

    async def update_merchant(self, merchant: Merchant) -> None:
        """Store a changed merchant (status, name, accounts, settings)."""
        ...

    async def add_key(self, key: ApiKey, key_hash: str) -> None:
        """Store a key record under the key's hash."""
        ...

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The record of the key with this hash."""
        ...

    async def keys(self, merchant_id: str | None = None) -> Sequence[ApiKey]:
        """Key records (of one merchant), oldest first."""
        ...

    async def key(self, key_id: str) -> ApiKey | None:
        """One key record."""
        ...

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked (idempotent: the first revocation time stays)."""
        ...

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at `at`."""
        ...


class InMemoryMerchantRegistry:
    """MerchantRegistry in memory (embedded tests)."""

    def __init__(self) -> None:
        """An empty registry."""
        self._merchants: dict[str, Merchant] = {}
        self._keys: dict[str, ApiKey] = {}
        self._by_hash: dict[str, str] = {}

    async def add_merchant(self, merchant: Merchant) -> None:
        """Register a merchant; MerchantExists if the id is taken."""
        if merchant.id in self._merchants:
            raise MerchantExists(f"merchant {merchant.id!r} already exists")
        self._merchants[merchant.id] = merchant

    async def merchant(self, merchant_id: str) -> Merchant | None:
        """One merchant, or None."""
        return self._merchants.get(merchant_id)

    async def merchants(self) -> Sequence[Merchant]:
        """Every merchant, by id."""
        return [self._merchants[k] for k in sorted(self._merchants)]

    async def update_merchant(self, merchant: Merchant) -> None:
        """Store a changed merchant."""
        if merchant.id not in self._merchants:
            raise MerchantNotFound(f"no merchant {merchant.id!r}")
        self._merchants[merchant.id] = merchant

    async def add_key(self, key: ApiKey, key_hash: str) -> None:
        """Store a key record under the key's hash."""
        self._keys[key.id] = key
        self._by_hash[key_hash] = key.id

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The record of the key with this hash."""
        key_id = self._by_hash.get(key_hash)
        return None if key_id is None else self._keys[key_id]

    async def keys(self, merchant_id: str | None = None) -> Sequence[ApiKey]:
        """Key records (of one merchant), oldest first."""
        found = [k for k in self._keys.values() if merchant_id in (None, k.merchant_id)]
        return sorted(found, key=lambda k: (k.created_at, k.id))

    async def key(self, key_id: str) -> ApiKey | None:
        """One key record."""
        return self._keys.get(key_id)

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked (the first revocation time stays)."""
        key = self._keys.get(key_id)
        if key is None:
            return None
        if key.revoked_at is None:
            key = self._keys[key_id] = evolve(key, revoked_at=at)
        return key

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at `at`."""
        key = self._keys.get(key_id)
        if key is not None:
            self._keys[key_id] = evolve(key, last_used_at=at)


class ApiKeys:
    """Issues, verifies and revokes API keys over a registry.

    Verified keys and looked-up merchants are cached for `cache_ttl` so the request path
    does not query the database each time: a revocation or a disabled merchant takes
    effect in other processes within that time (at once in this one). Last use is written
    at most once per `touch_interval` per key.
    """

    def __init__(
        self,
        registry: MerchantRegistry,
        *,
        secret: str,
        clock: Clock,
        live: bool = False,
        cache_ttl: timedelta = timedelta(seconds=10),
        touch_interval: timedelta = timedelta(minutes=1),
    ) -> None:
        """Keys hashed with `secret`; `live` picks the `sk_live_` prefix for new keys."""
        self._registry = registry
        self._secret = secret.encode()
        self._clock = clock
        self._prefix = KEY_PREFIXES[0] if live else KEY_PREFIXES[1]
        self._ttl = cache_ttl
        self._touch_interval = touch_interval
        self._keys: dict[str, tuple[ApiKey | None, datetime]] = {}
        self._merchants: dict[str, tuple[Merchant | None, datetime]] = {}

    @property
    def registry(self) -> MerchantRegistry:
        """The registry underneath."""
        return self._registry

    def hash(self, key: str) -> str:
        """The stored form of a key: hex HMAC-SHA256 with the server secret."""
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def looks_like_key(token: str) -> bool:
        """True if a bearer token is an API key (by its prefix) rather than a JWT."""
        return token.startswith(KEY_PREFIXES)

    async def issue(
        self,
        merchant_id: str,
        scopes: Iterable[str],
        *,
        expires_at: datetime | None = None,
        label: str = "",
    ) -> IssuedKey:
        """A new key for an active merchant; the key itself is only in the result."""
        merchant = await self._registry.merchant(merchant_id)
        if merchant is None:
            raise MerchantNotFound(f"no merchant {merchant_id!r}; create it first")
        if not merchant.active:
            raise ValidationError(f"merchant {merchant_id!r} is disabled", code="merchant_disabled")
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("the expiry must be in the future", code="invalid_expiry")
        secret = self._prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(_KEY_LENGTH))
        record = ApiKey(
            id=f"key_{secrets.token_hex(8)}",
            merchant_id=merchant_id,
            prefix=secret[: len(self._prefix) + 4],
            scopes=frozenset(scopes),
            created_at=now,
            label=label,
            expires_at=expires_at,
        )
        await self._registry.add_key(record, self.hash(secret))
        return IssuedKey(record, secret)

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key now (idempotent); ApiKeyNotFound if there is none."""
        key = await self._registry.revoke_key(key_id, self._clock.now())
        if key is None:
            raise ApiKeyNotFound(f"no API key {key_id!r}")
        self._keys.clear()  # this process refuses it at once
        return key

    async def merchant(self, merchant_id: str) -> Merchant | None:
        """The registered merchant (cached for the TTL), or None."""
        now = self._clock.now()
        hit = self._merchants.get(merchant_id)
        if hit is not None and now - hit[1] < self._ttl:
            return hit[0]
        merchant = await self._registry.merchant(merchant_id)
        if len(self._merchants) > 10_000:
            self._merchants.clear()
        self._merchants[merchant_id] = (merchant, now)
        return merchant

    async def verify(self, token: str) -> KeyCheck:
        """The verdict on a presented key, recording its use."""
        now = self._clock.now()
        key_hash = self.hash(token)
        hit = self._keys.get(key_hash)
        if hit is not None and now - hit[1] < self._ttl:
            key = hit[0]
        else:
            key = await self._registry.key_by_hash(key_hash)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key_hash] = (key, now)
        if key is None:
            return KeyCheck(KeyStatus.UNKNOWN)
        if key.revoked_at is not None:
            return KeyCheck(KeyStatus.REVOKED, key)
        if key.expires_at is not None and key.expires_at <= now:
            return KeyCheck(KeyStatus.EXPIRED, key)
        merchant = await self.merchant(key.merchant_id)
        if merchant is None or not merchant.active:
            return KeyCheck(KeyStatus.MERCHANT_DISABLED, key, merchant)
        if key.last_used_at is None or now - key.last_used_at >= self._touch_interval:
            await self._registry.touch_key(key.id, now)
            key = evolve(key, last_used_at=now)
            self._keys[key_hash] = (key, hit[1] if hit is not None else now)
        return KeyCheck(KeyStatus.VALID, key, merchant)


__all__ = [
    "KEY_PREFIXES",
    "ApiKey",
    "ApiKeyNotFound",
    "ApiKeys",
    "InMemoryMerchantRegistry",
    "IssuedKey",
    "KeyCheck",
    "KeyStatus",
    "Merchant",
    "MerchantExists",
    "MerchantNotFound",
    "MerchantRegistry",
    "MerchantStatus",
    "check_merchant_id",
]
