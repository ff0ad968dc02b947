"""Provider health from outcomes: sliding windows, latency, circuit breaker, elimination.

`HealthSample` and `ProviderHealth` are the contract with the ProviderHealthStore
port. `HealthTracker` is the pure, in-process state behind it: time is always
passed in, never read.

Circuit breaker (technical failures only; customer declines never become samples):

- CLOSED: requests flow. Opens after `open_after_consecutive` failures in a row,
  or when at least `min_samples` samples since the last close fail at
  `open_failure_rate` or more.
- OPEN: requests are refused until `cool_down` has passed since it opened.
- HALF_OPEN: one probe request is let through (another one if the probe has not
  reported within `cool_down`); a success closes the circuit, a failure reopens it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from attrs import define, field, frozen

from synccash.core.errors import ValidationError
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
    consecutive_failures: int = 0


@define
class _ProviderState:
    """Mutable per-provider state of the tracker."""

    window: deque[HealthSample]
    since_close: deque[bool]  # ok flags since the circuit last closed (bounded by the window)
    failures_since_close: int = 0
    consecutive_failures: int = 0
    circuit: CircuitState = CircuitState.CLOSED
    opened_at: datetime | None = None
    probe_at: datetime | None = None  # when the half-open probe was let through
    cached: ProviderHealth | None = None


def percentile(sorted_values: list[int], percent: int) -> int:
    """Nearest-rank percentile of a non-empty ascending list (rank = ceil(n * percent / 100))."""
    rank = max(1, -(-len(sorted_values) * percent // 100))
    return sorted_values[rank - 1]


@define
class HealthTracker:
    """Sliding-window health and a circuit breaker per provider.

    New providers start optimistic: `prior_success` counts as `prior_weight`
    pseudo-samples, so one early failure does not sink a provider.

    Samples older than `max_sample_age` leave the window (samples are expected
    roughly in time order). Without this, a provider that routing stopped using
    would keep its bad window forever and never get traffic again; with it, an
    idle provider drifts back to the optimistic prior and is tried again.
    """

    window: int = 100
    prior_success: float = 0.95
    prior_weight: float = 5.0
    default_latency_ms: int = 2_000
    open_after_consecutive: int = 5
    open_failure_rate: float = 0.5
    min_samples: int = 20
    cool_down: timedelta = timedelta(seconds=30)
    max_sample_age: timedelta | None = timedelta(minutes=15)
    _states: dict[ProviderId, _ProviderState] = field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.window < 1 or self.prior_weight < 0 or self.open_after_consecutive < 1:
            raise ValidationError(
                "health window and consecutive-failure limit must be >= 1, prior weight >= 0",
                code="invalid_policy",
            )
        if not (0.0 <= self.prior_success <= 1.0 and self.open_failure_rate > 0.0):
            raise ValidationError(
                "prior_success must be in [0, 1] and open_failure_rate > 0", code="invalid_policy"
            )

    def _state(self, provider: ProviderId) -> _ProviderState:
        state = self._states.get(provider)
        if state is None:
            state = _ProviderState(deque(maxlen=self.window), deque(maxlen=self.window))
            self._states[provider] = state
        return state

    def _refresh(self, state: _ProviderState, now: datetime) -> None:
        """Move OPEN to HALF_OPEN once the cool-down has passed."""
        if (
            state.circuit is CircuitState.OPEN
            and state.opened_at is not None
            and now - state.opened_at >= self.cool_down
        ):
            state.circuit = CircuitState.HALF_OPEN
            state.probe_at = None
            state.cached = None

    def _prune(self, state: _ProviderState, now: datetime) -> None:
        """Drop samples older than `max_sample_age` from the front of the window."""
        if self.max_sample_age is None:
            return
        window = state.window
        horizon = now - self.max_sample_age
        if window and window[0].at < horizon:
            while window and window[0].at < horizon:
                window.popleft()
            state.cached = None

    def _open(self, state: _ProviderState, at: datetime) -> None:
        state.circuit = CircuitState.OPEN
        state.opened_at = at
        state.probe_at = None

    def _close(self, state: _ProviderState) -> None:
        state.circuit = CircuitState.CLOSED
        state.opened_at = None
        state.probe_at = None
        state.since_close.clear()
        state.failures_since_close = 0

    def record(self, sample: HealthSample) -> None:
        """Add one outcome to its provider's window and move the circuit breaker."""
        state = self._state(sample.provider)
        state.window.append(sample)
        state.cached = None
        state.consecutive_failures = 0 if sample.ok else state.consecutive_failures + 1
        self._refresh(state, sample.at)
        if state.circuit is CircuitState.OPEN:
            return  # a late answer to a request sent before the circuit opened
        if state.circuit is CircuitState.HALF_OPEN:
            if sample.ok:
                self._close(state)
            else:
                self._open(state, sample.at)
            return
        since = state.since_close
        if len(since) == since.maxlen and not since[0]:
            state.failures_since_close -= 1
        since.append(sample.ok)
        if not sample.ok:
            state.failures_since_close += 1
        if state.consecutive_failures >= self.open_after_consecutive or (
            len(since) >= self.min_samples
            and state.failures_since_close >= self.open_failure_rate * len(since)
        ):
            self._open(state, sample.at)

    def record_many(self, samples: Iterable[HealthSample]) -> None:
        """Record samples in order (e.g. when rebuilding from a store)."""
        for sample in samples:
            self.record(sample)

    def allow_request(self, provider: ProviderId, now: datetime) -> bool:
        """True if a request may go to the provider now; takes the half-open probe slot."""
        state = self._state(provider)
        self._refresh(state, now)
        if state.circuit is CircuitState.CLOSED:
            return True
        if state.circuit is CircuitState.OPEN:
            return False
        if state.probe_at is None or now - state.probe_at >= self.cool_down:
            state.probe_at = now  # a probe that never reports frees its slot after cool_down
            return True
        return False

    def circuit(self, provider: ProviderId, now: datetime) -> CircuitState:
        """The provider's circuit state at `now`."""
        state = self._state(provider)
        self._refresh(state, now)
        return state.circuit

    def health(self, provider: ProviderId, now: datetime) -> ProviderHealth:
        """What routing knows about one provider at `now`."""
        state = self._state(provider)
        self._refresh(state, now)
        self._prune(state, now)
        if state.cached is not None:
            return state.cached
        n = len(state.window)
        successes = sum(1 for s in state.window if s.ok)
        rate = (successes + self.prior_success * self.prior_weight) / (n + self.prior_weight)
        if n:
            latencies = sorted(s.latency_ms for s in state.window)
            p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        else:
            p50 = p95 = self.default_latency_ms
        state.cached = ProviderHealth(
            provider, rate, n, p50, p95, state.circuit, state.consecutive_failures
        )
        return state.cached

    def snapshot(self, now: datetime) -> dict[ProviderId, ProviderHealth]:
        """Health of every provider (all of them, with or without samples)."""
        return {provider: self.health(provider, now) for provider in ProviderId}


def eliminated(health: Mapping[ProviderId, ProviderHealth], gap: float) -> frozenset[ProviderId]:
    """Providers whose success rate is more than `gap` below the leader's.

    The leader is the best provider whose circuit is not open; with no such
    provider nothing is eliminated (the circuit breaker already filters).
    """
    leader = max(
        (h.success_rate for h in health.values() if h.circuit is not CircuitState.OPEN),
        default=None,
    )
    if leader is None:
        return frozenset()
    floor = leader - gap
    return frozenset(p for p, h in health.items() if h.success_rate < floor)
