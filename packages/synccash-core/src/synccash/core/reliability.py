"""Provider health from outcomes: success estimates, latency, a circuit breaker, elimination.

`HealthSample` and `ProviderHealth` are the contract with the ProviderHealthStore
port. `HealthTracker` is the pure, in-process state behind it: time is always
passed in, never read.

What a sample says (`SampleKind`; customer declines never become samples):

=========== ======================================== ============ ===================
kind        the provider ...                          breaker      success estimate
=========== ======================================== ============ ===================
CONFIRMED   confirmed the money moved                 healthy      a success
ACCEPTED    accepted a submit / answered pending      healthy      not counted
FAILED      failed the attempt by its own doing       failure, 1   a failure
REFUSED     refused before creating anything (429,    failure, 1   not counted
            connection refused): resent as is
AMBIGUOUS   may or may not have got it (timeout, 5xx) failure,     not counted (the
            after sending                             ``ambiguous  attempt is reconciled
                                                      _weight``    and reports later)
=========== ======================================== ============ ===================

Circuit breaker (technical health only):

- CLOSED: requests flow. It opens when, over the samples since the last close that
  are at most `breaker_window` old (and at most `window` of them), there are at
  least `min_volume` samples and their weighted failure share is at least
  `open_failure_rate` (80%: the breaker is for a provider that is down; one that is
  degraded, say failing 40%, stays routable and routing's success estimate demotes
  it; at 50%, ten answers of a provider failing 40% reach half failures by chance
  about one time in three). Ambiguous failures weigh `ambiguous_weight` (0.5) in both
  the failures and the volume, so a mix of timeouts and successes counts less than
  the same mix of definite failures, while a provider that only times out still
  reads 100 % failing. `open_after_consecutive` (off by default) adds the old
  "N weighted failures in a row" trigger.
- OPEN: refused until `cool_down` has passed (`ProviderHealth.retry_at` says when).
- HALF_OPEN: probes go through (the router puts the provider last, or first as an
  exploration probe, or first when nothing else is left); `close_after_successes`
  healthy answers close it, a failure weight of 1 (one definite failure, two
  ambiguous ones) reopens it for another cool-down.

Success estimates (what routing scores with) come from final outcomes only
(CONFIRMED vs FAILED) in the sliding window: a Beta posterior per provider with an
optimistic prior (`prior_success` as `prior_weight` pseudo-samples), and per
transfer kind shrunk towards the provider's estimate (`kind_prior_weight`), each
with its standard deviation (the uncertainty routing explores on).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final

from attrs import define, field, frozen

from synccash.core.errors import ValidationError
from synccash.core.fees import TransferKind
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.providers import ProviderId


class CircuitState(enum.StrEnum):
    """Circuit breaker state for one provider."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class SampleKind(enum.StrEnum):
    """What one provider answer says about the provider (see the module docstring)."""

    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    FAILED = "failed"
    REFUSED = "refused"
    AMBIGUOUS = "ambiguous"

    @property
    def healthy(self) -> bool:
        """True for the answers of a provider that works."""
        return self in _HEALTHY


_HEALTHY: Final = frozenset({SampleKind.CONFIRMED, SampleKind.ACCEPTED})
_PROVIDER_FAULTS: Final = frozenset({FailureReason.PROVIDER_UNAVAILABLE, FailureReason.OTHER})


@frozen
class HealthSample:
    """One provider answer that says something about the provider (customer declines excluded).

    `kind` None is the older two-valued form: `ok` means CONFIRMED, not `ok` FAILED.
    `transfer` is the attempt's transfer kind when known (success estimates per kind).
    """

    provider: ProviderId
    ok: bool
    latency_ms: int
    at: datetime
    kind: SampleKind | None = None
    transfer: TransferKind | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is not None and self.kind.healthy is not self.ok:
            raise ValidationError(
                f"health sample of kind {self.kind} cannot have ok={self.ok}",
                code="invalid_sample",
            )

    @classmethod
    def of(
        cls,
        provider: ProviderId,
        kind: SampleKind,
        latency_ms: int,
        at: datetime,
        transfer: TransferKind | None = None,
    ) -> HealthSample:
        """A sample of the given kind (`ok` follows from it)."""
        return cls(provider, kind.healthy, latency_ms, at, kind, transfer)

    @property
    def sample_kind(self) -> SampleKind:
        """The kind, with the two-valued form resolved."""
        if self.kind is not None:
            return self.kind
        return SampleKind.CONFIRMED if self.ok else SampleKind.FAILED


def sample_kind_for(outcome: ProviderOutcome) -> SampleKind | None:
    """What a provider answer says about the provider; None: nothing (e.g. a payer's decline)."""
    kind = outcome.kind
    if kind is OutcomeKind.SUCCEEDED:
        return SampleKind.CONFIRMED
    if kind is OutcomeKind.PENDING:
        return SampleKind.ACCEPTED
    if kind is OutcomeKind.FAILED:
        return SampleKind.FAILED if outcome.reason in _PROVIDER_FAULTS else None
    if kind is OutcomeKind.TRANSIENT:
        return SampleKind.REFUSED
    if kind is OutcomeKind.UNKNOWN:
        return SampleKind.AMBIGUOUS
    return None  # NOT_FOUND: the reference was never accepted; resent with the same reference


def sample_for(
    provider: ProviderId,
    outcome: ProviderOutcome,
    latency_ms: int,
    at: datetime,
    transfer: TransferKind | None = None,
) -> HealthSample | None:
    """The health sample of one provider answer, or None when it says nothing about the provider."""
    kind = sample_kind_for(outcome)
    return None if kind is None else HealthSample.of(provider, kind, latency_ms, at, transfer)


@frozen
class SuccessEstimate:
    """A Beta posterior over an attempt's success probability: its mean and spread."""

    mean: float
    sd: float
    successes: int
    failures: int

    @classmethod
    def posterior(
        cls, successes: int, failures: int, prior_mean: float, prior_weight: float
    ) -> SuccessEstimate:
        """Beta(successes + w*m, failures + w*(1-m)): mean and standard deviation."""
        alpha = successes + prior_weight * prior_mean
        beta = failures + prior_weight * (1.0 - prior_mean)
        total = alpha + beta
        if total <= 0:
            return cls(prior_mean, 0.5, successes, failures)
        mean = alpha / total
        sd = math.sqrt(mean * (1.0 - mean) / (total + 1.0))
        return cls(mean, sd, successes, failures)


@frozen
class ProviderHealth:
    """What routing knows about a provider right now.

    `success_rate` is the provider's success estimate (final outcomes, with the prior);
    `by_transfer` refines it per transfer kind. `retry_at` is when an OPEN circuit lets
    probes through (None otherwise); `failure_rate` and `volume` are the breaker's
    weighted failure share and sample count in its window.
    """

    provider: ProviderId
    success_rate: float
    samples: int
    p50_latency_ms: int
    p95_latency_ms: int
    circuit: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    success_sd: float = 0.0
    by_transfer: Mapping[TransferKind, SuccessEstimate] = field(factory=dict, hash=False)
    retry_at: datetime | None = None
    failure_rate: float = 0.0
    volume: int = 0
    _overall: SuccessEstimate = field(init=False, eq=False, repr=False)

    @_overall.default
    def _overall_estimate(self) -> SuccessEstimate:
        return SuccessEstimate(self.success_rate, self.success_sd, 0, 0)

    @property
    def probe_allowed(self) -> bool:
        """True while the circuit is half-open: a probe may go (and decides the circuit)."""
        return self.circuit is CircuitState.HALF_OPEN

    def estimate(self, transfer: TransferKind | None) -> SuccessEstimate:
        """The success estimate for one transfer kind (the provider's own when unknown)."""
        if transfer is not None:
            found = self.by_transfer.get(transfer)
            if found is not None:
                return found
        return self._overall


def earliest_retry(health: Iterable[ProviderHealth]) -> datetime | None:
    """When the first of these open circuits lets a probe through (None: none is open).

    For a payment whose every candidate's circuit is open: wait until then, then route.
    """
    times = [h.retry_at for h in health if h.circuit is CircuitState.OPEN and h.retry_at]
    return min(times, default=None)


@define
class _ProviderState:
    """Mutable per-provider state of the tracker."""

    window: deque[HealthSample]
    # The breaker's samples since the circuit last closed: (at, failure weight, weight).
    breaker: deque[tuple[datetime, float, float]] = field(factory=deque)
    failed_weight: float = 0.0
    total_weight: float = 0.0
    consecutive_failures: int = 0
    consecutive_weight: float = 0.0
    circuit: CircuitState = CircuitState.CLOSED
    opened_at: datetime | None = None
    probe_at: datetime | None = None  # when the half-open probe was let through
    probe_successes: int = 0
    probe_failure_weight: float = 0.0
    cached: ProviderHealth | None = None


def percentile(sorted_values: list[int], percent: int) -> int:
    """Nearest-rank percentile of a non-empty ascending list (rank = ceil(n * percent / 100))."""
    rank = max(1, -(-len(sorted_values) * percent // 100))
    return sorted_values[rank - 1]


@define
class HealthTracker:
    """Success estimates, latency and a circuit breaker per provider (module docstring).

    Samples older than `max_sample_age` leave the window (samples are expected
    roughly in time order). Without this, a provider that routing stopped using
    would keep its bad window forever and never get traffic again; with it, an
    idle provider drifts back to the optimistic prior and is tried again.
    """

    window: int = 100
    prior_success: float = 0.95
    prior_weight: float = 5.0
    kind_prior_weight: float = 10.0
    default_latency_ms: int = 2_000
    open_failure_rate: float = 0.8
    min_volume: int = 10
    breaker_window: timedelta = timedelta(seconds=60)
    ambiguous_weight: float = 0.5
    open_after_consecutive: float | None = None
    close_after_successes: int = 1
    cool_down: timedelta = timedelta(seconds=30)
    max_sample_age: timedelta | None = timedelta(minutes=15)
    _states: dict[ProviderId, _ProviderState] = field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.window < 1 or self.prior_weight < 0 or self.kind_prior_weight < 0:
            raise ValidationError(
                "health window must be >= 1 and prior weights >= 0", code="invalid_policy"
            )
        if self.min_volume < 1 or self.close_after_successes < 1:
            raise ValidationError(
                "breaker min_volume and close_after_successes must be >= 1", code="invalid_policy"
            )
        if self.open_after_consecutive is not None and self.open_after_consecutive <= 0:
            raise ValidationError("open_after_consecutive must be > 0", code="invalid_policy")
        if not (
            0.0 <= self.prior_success <= 1.0
            and self.open_failure_rate > 0.0
            and 0.0 < self.ambiguous_weight <= 1.0
        ):
            raise ValidationError(
                "prior_success must be in [0, 1], open_failure_rate > 0, "
                "ambiguous_weight in (0, 1]",
                code="invalid_policy",
            )

    def _state(self, provider: ProviderId) -> _ProviderState:
        state = self._states.get(provider)
        if state is None:
            state = _ProviderState(deque(maxlen=self.window))
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
            state.probe_successes = 0
            state.probe_failure_weight = 0.0
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

    def _prune_breaker(self, state: _ProviderState, now: datetime) -> None:
        """Keep the breaker's samples within `breaker_window` of `now` and `window` in number."""
        breaker = state.breaker
        horizon = now - self.breaker_window
        while breaker and (breaker[0][0] < horizon or len(breaker) > self.window):
            _, failed, weight = breaker.popleft()
            state.failed_weight -= failed
            state.total_weight -= weight
        if not breaker:  # no float drift across an emptied window
            state.failed_weight = state.total_weight = 0.0

    def _open(self, state: _ProviderState, at: datetime) -> None:
        state.circuit = CircuitState.OPEN
        state.opened_at = at
        state.probe_at = None

    def _close(self, state: _ProviderState) -> None:
        state.circuit = CircuitState.CLOSED
        state.opened_at = None
        state.probe_at = None
        state.breaker.clear()
        state.failed_weight = state.total_weight = 0.0
        state.consecutive_weight = 0.0

    def _weight(self, kind: SampleKind) -> float:
        return self.ambiguous_weight if kind is SampleKind.AMBIGUOUS else 1.0

    def record(self, sample: HealthSample) -> None:
        """Add one answer to its provider's window and move the circuit breaker."""
        state = self._state(sample.provider)
        state.window.append(sample)
        state.cached = None
        kind = sample.sample_kind
        weight = self._weight(kind)
        if kind.healthy:
            state.consecutive_failures = 0
            state.consecutive_weight = 0.0
        else:
            state.consecutive_failures += 1
            state.consecutive_weight += weight
        self._refresh(state, sample.at)
        if state.circuit is CircuitState.OPEN:
            return  # a late answer to a request sent before the circuit opened
        if state.circuit is CircuitState.HALF_OPEN:
            self._probe_result(state, sample, kind, weight)
            return
        failed = 0.0 if kind.healthy else weight
        state.breaker.append((sample.at, failed, weight))
        state.failed_weight += failed
        state.total_weight += weight
        self._prune_breaker(state, sample.at)
        if self._trips(state):
            self._open(state, sample.at)

    def _probe_result(
        self, state: _ProviderState, sample: HealthSample, kind: SampleKind, weight: float
    ) -> None:
        if kind.healthy:
            state.probe_successes += 1
            if state.probe_successes >= self.close_after_successes:
                self._close(state)
            return
        state.probe_failure_weight += weight
        if state.probe_failure_weight >= 1.0:
            self._open(state, sample.at)

    def _trips(self, state: _ProviderState) -> bool:
        limit = self.open_after_consecutive
        if limit is not None and state.consecutive_weight >= limit:
            return True
        return (
            len(state.breaker) >= self.min_volume
            and state.total_weight > 0
            and state.failed_weight >= self.open_failure_rate * state.total_weight
        )

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
        if state.circuit is CircuitState.CLOSED and state.breaker:
            before = len(state.breaker)
            self._prune_breaker(state, now)
            if len(state.breaker) != before:
                state.cached = None
        if state.cached is not None:
            return state.cached
        state.cached = self._compute(provider, state)
        return state.cached

    def _compute(self, provider: ProviderId, state: _ProviderState) -> ProviderHealth:
        counts: dict[TransferKind | None, list[int]] = {}
        for s in state.window:
            kind = s.sample_kind
            if kind is SampleKind.CONFIRMED or kind is SampleKind.FAILED:
                pair = counts.setdefault(s.transfer, [0, 0])
                pair[0 if kind is SampleKind.CONFIRMED else 1] += 1
        successes = sum(pair[0] for pair in counts.values())
        failures = sum(pair[1] for pair in counts.values())
        overall = SuccessEstimate.posterior(
            successes, failures, self.prior_success, self.prior_weight
        )
        by_transfer = {
            t: SuccessEstimate.posterior(pair[0], pair[1], overall.mean, self.kind_prior_weight)
            for t, pair in counts.items()
            if t is not None
        }
        if state.window:
            latencies = sorted(s.latency_ms for s in state.window)
            p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        else:
            p50 = p95 = self.default_latency_ms
        retry_at = None
        if state.circuit is CircuitState.OPEN and state.opened_at is not None:
            retry_at = state.opened_at + self.cool_down
        total = state.total_weight
        return ProviderHealth(
            provider,
            overall.mean,
            len(state.window),
            p50,
            p95,
            state.circuit,
            state.consecutive_failures,
            overall.sd,
            by_transfer,
            retry_at,
            state.failed_weight / total if total > 0 else 0.0,
            len(state.breaker),
        )

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
