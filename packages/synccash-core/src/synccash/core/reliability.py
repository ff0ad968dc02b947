"""Provider health from outcomes: sliding windows, latency, circuit breaker.

(`HealthSample` and `ProviderHealth` are the contract with the ProviderHealthStore port.)
"""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import frozen

from synccash.core.providers import ProviderId


class CircuitState(enum.StrEnum):
    """Circuit breaker state for one provider."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@frozen
class HealthSample:
    """One provider outcome that says something about the provider (customer declines excluded)."""

    provider: ProviderId
    ok: bool
    latency_ms: int
    at: datetime


@frozen
class ProviderHealth:
    """What routing knows about a provider right now."""

    provider: ProviderId
    success_rate: float
    samples: int
    p50_latency_ms: int
    p95_latency_ms: int
    circuit: CircuitState = CircuitState.CLOSED
