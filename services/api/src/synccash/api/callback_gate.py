"""What stops forged provider callbacks from being an amplifier.

A callback carries no credential we can verify, and each one we act on costs a
database lookup, a queued task and a status query at the provider. The gate bounds
that work; the callback is still answered 200 at once whatever the gate decides:

1. an optional source allowlist per provider (`<PROVIDER>_CALLBACK_ALLOWED_IPS`);
2. coalescing per attempt: once a callback claiming status S for attempt R queued a
   status check, further callbacks for R claiming S queue none for
   `CALLBACK_COALESCE_SECONDS` (a callback with news, a different claimed status, still
   passes). The window is a lock in the shared `Locks` (Redis in production), so it
   holds across API processes;
3. a token bucket per provider per API process (`CALLBACK_RATE_LIMIT_*`) on what is left
   (distinct references, each one a lookup).
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import ip_address

from attrs import Factory, define, field

from synccash.adapters.coordination import Locks, RateLimiter
from synccash.adapters.memory.ratelimit import MemoryRateLimiter
from synccash.adapters.providers.callbacks import CallbackHint
from synccash.adapters.settings import CallbackLimits
from synccash.core.providers import ProviderId


class Verdict(StrEnum):
    """What the gate decided for one callback (also the metric's `outcome` label)."""

    ADMITTED = "admitted"
    SOURCE_REFUSED = "source_refused"
    COALESCED = "coalesced"
    RATE_LIMITED = "rate_limited"


def _bucket(limits: CallbackLimits) -> RateLimiter:
    return MemoryRateLimiter(capacity=limits.burst, per_second=limits.per_second)


@define
class CallbackGate:
    """The allowlist, the per-attempt window and the per-provider rate for callbacks."""

    limits: CallbackLimits
    limiter: RateLimiter = field(
        default=Factory(lambda self: _bucket(self.limits), takes_self=True)
    )

    def source_allowed(self, provider: ProviderId, host: str | None) -> bool:
        """True when the provider has no allowlist or `host` is inside it."""
        networks = self.limits.allowed_sources.get(provider.value, ())
        if not networks:
            return True
        try:
            address = ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in networks)

    async def admit(self, locks: Locks, hint: CallbackHint) -> Verdict:
        """Coalesce per (attempt, claimed status), then rate-limit per provider."""
        window_ms = self.limits.coalesce_seconds * 1000
        if window_ms > 0:
            key = f"callback:{hint.provider.value}:{hint.reference}:{hint.claimed.value}"
            if await locks.try_lock(key, window_ms) is None:
                return Verdict.COALESCED
        if await self.limiter.acquire(f"callbacks:{hint.provider.value}") is not None:
            return Verdict.RATE_LIMITED
        return Verdict.ADMITTED


__all__ = ["CallbackGate", "Verdict"]
