"""Provider health: sliding windows, percentiles, circuit breaker and elimination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import ValidationError
from synccash.core.providers import ProviderId
from synccash.core.reliability import (
    CircuitState,
    HealthSample,
    HealthTracker,
    ProviderHealth,
    eliminated,
    percentile,
)

MTN = ProviderId.MTN
TEL = ProviderId.TELECEL
AT = ProviderId.AIRTELTIGO
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)


def feed(tracker: HealthTracker, provider: ProviderId, oks: str, start: datetime = T0) -> datetime:
    """Record one sample per character ('1' ok, '0' failure), a second apart; return last time."""
    at = start
    for i, ch in enumerate(oks):
        at = start + i * SEC
        tracker.record(HealthSample(provider, ch == "1", 100 + i, at))
    return at


def test_new_providers_start_optimistic_and_all_are_present():
    """An empty tracker reports every provider at the prior success rate with a closed circuit."""
    snap = HealthTracker().snapshot(T0)
    assert set(snap) == set(ProviderId)
    assert all(h.success_rate == pytest.approx(0.95) for h in snap.values())
    assert all(h.samples == 0 for h in snap.values())
    assert all(h.circuit is CircuitState.CLOSED for h in snap.values())
    assert all(h.p95_latency_ms == 2_000 for h in snap.values())


def test_one_early_failure_does_not_sink_a_provider():
    """The pseudo-count prior softens the first samples: one failure → (4.75)/(6)."""
    tracker = HealthTracker()
    feed(tracker, MTN, "0")
    assert tracker.health(MTN, T0).success_rate == pytest.approx(4.75 / 6)


def test_success_rate_converges_to_window_rate():
    """With a full window the prior weighs little: 90 % observed → close to 0.9."""
    tracker = HealthTracker(open_after_consecutive=1_000, open_failure_rate=1.1)
    feed(tracker, MTN, ("1" * 9 + "0") * 10)
    h = tracker.health(MTN, T0)
    assert h.samples == 100
    assert h.success_rate == pytest.approx((90 + 0.95 * 5) / 105)


def test_window_keeps_only_the_last_n():
    """Old samples fall out of the window."""
    tracker = HealthTracker(window=10, open_after_consecutive=1_000, open_failure_rate=1.1)
    feed(tracker, MTN, "0" * 10 + "1" * 10)
    h = tracker.health(MTN, T0)
    assert h.samples == 10
    assert h.success_rate == pytest.approx((10 + 0.95 * 5) / 15)


def test_latency_percentiles():
    """p50 and p95 by nearest rank over the window's latencies."""
    tracker = HealthTracker()
    for ms in range(1, 101):
        tracker.record(HealthSample(TEL, ok=True, latency_ms=ms * 10, at=T0))
    h = tracker.health(TEL, T0)
    assert (h.p50_latency_ms, h.p95_latency_ms) == (500, 950)


def test_percentile_nearest_rank():
    """Nearest-rank on tiny lists."""
    assert percentile([7], 95) == 7
    assert percentile([1, 2], 50) == 1
    assert percentile([1, 2, 3, 4], 95) == 4


def test_circuit_opens_after_consecutive_failures():
    """Five failures in a row open the circuit; four do not."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "1" * 10 + "0000")
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=last + SEC))
    assert tracker.circuit(MTN, last + SEC) is CircuitState.OPEN
    assert tracker.health(MTN, last + SEC).consecutive_failures == 5
    assert not tracker.allow_request(MTN, last + 2 * SEC)


def test_circuit_opens_on_failure_rate_with_min_samples():
    """Half of 20 samples failing (never 5 in a row) opens the circuit; fewer samples do not."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "10" * 9 + "1")
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=last + SEC))
    assert tracker.circuit(MTN, last + SEC) is CircuitState.OPEN


def test_failure_rate_below_threshold_stays_closed():
    """A 40 % failure rate stays closed with the default 50 % threshold."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "11100" * 20)
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED


def test_circuit_full_cycle_open_half_open_closed():
    """Open → (cool-down) half-open with a single probe → success closes."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, "00000")
    assert tracker.circuit(MTN, opened + 29 * SEC) is CircuitState.OPEN
    assert not tracker.allow_request(MTN, opened + 29 * SEC)
    probe_time = opened + 30 * SEC
    assert tracker.snapshot(probe_time)[MTN].circuit is CircuitState.HALF_OPEN
    assert tracker.allow_request(MTN, probe_time)
    assert not tracker.allow_request(MTN, probe_time + SEC)  # only one probe
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe_time + 2 * SEC))
    assert tracker.circuit(MTN, probe_time + 2 * SEC) is CircuitState.CLOSED
    assert tracker.allow_request(MTN, probe_time + 3 * SEC)


def test_failed_probe_reopens_for_another_cool_down():
    """A failure in half-open reopens the circuit from the probe's time."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, "00000")
    probe_time = opened + 31 * SEC
    assert tracker.allow_request(MTN, probe_time)
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=probe_time + SEC))
    assert tracker.circuit(MTN, probe_time + 2 * SEC) is CircuitState.OPEN
    assert tracker.circuit(MTN, probe_time + 31 * SEC) is CircuitState.HALF_OPEN


def test_lost_probe_frees_its_slot_after_cool_down():
    """A probe that never reports does not wedge the breaker in half-open."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, "00000")
    probe_time = opened + 30 * SEC
    assert tracker.allow_request(MTN, probe_time)
    assert not tracker.allow_request(MTN, probe_time + 29 * SEC)
    assert tracker.allow_request(MTN, probe_time + 30 * SEC)


def test_late_answers_while_open_do_not_close():
    """A success arriving during the cool-down (a request sent earlier) keeps it open."""
    tracker = HealthTracker()
    opened = feed(tracker, MTN, "00000")
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=opened + SEC))
    assert tracker.circuit(MTN, opened + 2 * SEC) is CircuitState.OPEN


def test_reclosed_circuit_does_not_reopen_on_old_failure_rate():
    """After closing, the failure-rate trigger only counts samples since the close."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    last = feed(tracker, MTN, "10" * 10)  # opens on rate at sample 20
    assert tracker.circuit(MTN, last) is CircuitState.OPEN
    probe = last + 40 * SEC
    assert tracker.allow_request(MTN, probe)
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe))
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=probe + SEC))
    assert tracker.circuit(MTN, probe + SEC) is CircuitState.CLOSED


def test_providers_are_independent():
    """One provider's failures do not affect another."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "00000")
    snap = tracker.snapshot(last)
    assert snap[MTN].circuit is CircuitState.OPEN
    assert snap[TEL].circuit is CircuitState.CLOSED
    assert tracker.allow_request(TEL, last)


def test_snapshot_is_cached_until_the_next_record():
    """Reading twice without new samples returns the same value; a new sample refreshes it."""
    tracker = HealthTracker()
    feed(tracker, MTN, "11")
    first = tracker.health(MTN, T0)
    assert first is tracker.health(MTN, T0)
    feed(tracker, MTN, "0", T0 + 5 * SEC)
    assert tracker.health(MTN, T0).samples == 3


def health(provider: ProviderId, rate: float, circuit=CircuitState.CLOSED) -> ProviderHealth:
    return ProviderHealth(provider, rate, 100, 500, 900, circuit)


def test_elimination_removes_providers_far_below_the_leader():
    """With a 0.3 gap, 0.55 is eliminated next to a 0.9 leader; 0.65 is not."""
    snap = {MTN: health(MTN, 0.9), TEL: health(TEL, 0.65), AT: health(AT, 0.55)}
    assert eliminated(snap, 0.3) == frozenset({AT})


def test_elimination_ignores_open_circuits_as_leader():
    """An open-circuit provider cannot be the leader."""
    snap = {MTN: health(MTN, 0.99, CircuitState.OPEN), TEL: health(TEL, 0.6)}
    assert eliminated(snap, 0.3) == frozenset()
    assert eliminated({}, 0.3) == frozenset()


@given(oks=st.lists(st.booleans(), max_size=300))
def test_health_values_stay_in_range(oks):
    """Success rate in [0, 1], samples bounded by the window, p50 <= p95."""
    tracker = HealthTracker(window=50)
    for i, ok in enumerate(oks):
        tracker.record(HealthSample(AT, ok, (i * 37) % 1000, T0 + i * SEC))
    h = tracker.health(AT, T0 + len(oks) * SEC)
    assert 0.0 <= h.success_rate <= 1.0
    assert h.samples == min(len(oks), 50)
    assert h.p50_latency_ms <= h.p95_latency_ms


@given(oks=st.lists(st.booleans(), min_size=1, max_size=200))
def test_five_failures_in_a_row_always_trip(oks):
    """Whatever came before, five consecutive failures leave the circuit not closed."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "".join("1" if ok else "0" for ok in oks))
    last = feed(tracker, MTN, "00000", last + SEC)
    assert tracker.circuit(MTN, last) is not CircuitState.CLOSED


def test_old_samples_age_out_so_an_idle_provider_recovers():
    """Samples older than max_sample_age leave the window; the provider returns to the prior."""
    tracker = HealthTracker(max_sample_age=timedelta(minutes=15))
    last = feed(tracker, AT, "0" * 4 + "1" * 3)
    assert tracker.health(AT, last).success_rate == pytest.approx((3 + 4.75) / 12)
    later = T0 + timedelta(minutes=15, seconds=3)  # the first 3 samples (T0..T0+2 s) are stale
    h = tracker.health(AT, later)
    assert h.samples == 4
    assert h.success_rate == pytest.approx((3 + 4.75) / 9)
    assert tracker.health(AT, T0 + timedelta(hours=1)).samples == 0
    assert tracker.health(AT, T0 + timedelta(hours=1)).success_rate == pytest.approx(0.95)


def test_age_limit_can_be_switched_off():
    """With max_sample_age=None the window is purely count-based."""
    tracker = HealthTracker(max_sample_age=None)
    feed(tracker, AT, "0011")
    assert tracker.health(AT, T0 + timedelta(days=2)).samples == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"window": 0},
        {"prior_success": 1.5},
        {"open_after_consecutive": 0},
        {"open_failure_rate": 0},
    ],
)
def test_tracker_rejects_nonsense(bad):
    """A tracker that could never work fails fast."""
    with pytest.raises(ValidationError):
        HealthTracker(**bad)
