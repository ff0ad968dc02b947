"""Token-bucket rate limiting and short-lived locks on Redis, each one atomic Lua script.

The bucket state (tokens, last refill ms) lives in a hash per key with a TTL of the time to
refill completely, so idle keys disappear. Time comes from the injected Clock (the API
replicas are NTP-synchronised; a small skew only shifts refills by that much, and time never
runs backwards inside a bucket).

Locks are `SET key token NX PX ttl`; release and extend compare the owner token first in
one script, so a holder whose lock expired can never delete or extend someone else's.

`RedisRateLimiter.acquire_and_lock` takes a token and, if one was granted, a lock of a
`RedisLocks` on the same client in the same script: one command instead of two for a
request that is both rate-limited and guarded by an idempotency lock (each command costs
the API ~0.1 ms of CPU in redis-py and a socket write, a tenth of an initiate).

The scripts and the lock commands go over the pipelined connection
(`synccash.adapters.engines.resp.LeanRedis`) the composition root passes in as `lean`: one per
process, at a fraction of redis-py's CPU per command; without one (ENGINE_REDIS=redis-py, TLS,
unix socket) through redis-py. The commands, the scripts and the replies are the same either
way.
"""

from __future__ import annotations

import secrets
from typing import Any

from redis.asyncio import Redis

from synccash.adapters.clock import SystemClock
from synccash.adapters.coordination import Locks, RateLimiter, epoch_ms
from synccash.adapters.engines.resp import LeanRedis, run_script
from synccash.core.ports import Clock

# KEYS: bucket [, lock]; ARGV: capacity, refill per second, now ms, cost [, lock token, lock
# ttl ms]. Returns "<wait ms> <1 if the lock was taken else 0>"; the lock is tried only when
# the token was granted (a refused request takes nothing).
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil or ts == nil then tokens, ts = capacity, now end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  ts = now
end
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) * 1000 / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
local locked = 0
if wait == 0 and #KEYS > 1 then
  if redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[6]) then locked = 1 end
end
return tostring(wait) .. ' ' .. locked
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisRateLimiter:
    """A token bucket per key: `capacity` burst, refilled at `per_second` tokens a second."""

    def __init__(
        self,
        redis: Redis,
        *,
        capacity: int,
        per_second: float,
        lean: LeanRedis | None = None,
        clock: Clock | None = None,
        prefix: str = "synccash:ratelimit:",
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("capacity must be >= 1 and per_second > 0")
        self._capacity = capacity
        self._per_second = per_second
        self._clock: Clock = clock or SystemClock()
        self._prefix = prefix
        self._redis = redis
        self._lean = lean  # the pipelined connection for the script, if any
        self._script = redis.register_script(_BUCKET_SCRIPT)

    async def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds until one is available."""
        wait, _ = await self.run_script([self._prefix + key], [])
        return wait

    async def acquire_and_lock(
        self, key: str, locks: Locks, lock_key: str, ttl_ms: int
    ) -> tuple[float | None, str | None]:
        """Take a token, then (if granted) `locks`' lock `lock_key` for `ttl_ms`.

        Returns (seconds to wait, None) when refused (no lock tried), (None, owner token)
        when the lock was taken, (None, None) when someone else holds it. One script when
        `locks` is a RedisLocks on this client, else the two calls in that order.
        """
        if not isinstance(locks, RedisLocks) or locks.redis is not self._redis:
            wait = await self.acquire(key)
            return (
                (wait, None) if wait is not None else (None, await locks.try_lock(lock_key, ttl_ms))
            )
        token = secrets.token_hex(16)
        wait, locked = await self.run_script(
            [self._prefix + key, locks.key(lock_key)], [token, ttl_ms]
        )
        return wait, (token if locked else None)

    async def run_script(self, keys: list[str], extra: list[Any]) -> tuple[float | None, bool]:
        reply = await run_script(
            self._redis,
            self._lean,
            self._script,
            keys,
            [self._capacity, self._per_second, epoch_ms(self._clock.now()), 1, *extra],
        )
        wait_ms, _, locked = _str(reply).partition(" ")
        wait = float(wait_ms) / 1000
        return (None if wait <= 0 else wait), locked == "1"


class RedisLocks:
    """Short-lived exclusive locks with owner tokens (see `synccash.adapters.coordination.Locks`)."""

    def __init__(
        self, redis: Redis, *, lean: LeanRedis | None = None, prefix: str = "synccash:lock:"
    ) -> None:
        self.redis = redis
        self._lean = lean
        self._prefix = prefix
        self._release = redis.register_script(_RELEASE)
        self._extend = redis.register_script(_EXTEND)

    def key(self, name: str) -> str:
        """The Redis key of lock `name`."""
        return self._prefix + name

    async def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """Take the lock for `ttl_ms`: its owner token, or None if it is held."""
        token = secrets.token_hex(16)
        lean = self._lean
        if lean is not None:
            taken = await lean.execute("SET", self.key(key), token, "NX", "PX", ttl_ms)
        else:
            taken = await self.redis.set(self.key(key), token, nx=True, px=ttl_ms)
        return token if taken else None

    async def extend(self, key: str, token: str, ttl_ms: int) -> bool:
        """Extend a lock we still hold; False if it expired or changed owner."""
        return bool(
            await run_script(self.redis, self._lean, self._extend, [self.key(key)], [token, ttl_ms])
        )

    async def release(self, key: str, token: str) -> bool:
        """Delete the lock only if `token` still owns it."""
        return bool(
            await run_script(self.redis, self._lean, self._release, [self.key(key)], [token])
        )


__all__ = ["Locks", "RateLimiter", "RedisLocks", "RedisRateLimiter"]
