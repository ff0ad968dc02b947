"""Provider health: sliding windows, percentiles, circuit breaker and elimination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import ValidationError
from synccash.core.fees import TransferKind
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.providers import ProviderId
from synccash.core.reliability import (
    CircuitState,
    HealthSample,
    HealthTracker,
    ProviderHealth,
    SampleKind,
    earliest_retry,
    eliminated,
    percentile,
    sample_for,
)

MTN = ProviderId.MTN
TEL = ProviderId.TELECEL
AT = ProviderId.AIRTELTIGO
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
TRIP = "0" * 10  # ten definite failures: the default minimum volume, all failing


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


def test_consecutive_failures_alone_do_not_open_by_default():
    """Five failures in a row are below the minimum volume; the optional trigger opens on them."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "00000")
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    strict = HealthTracker(open_after_consecutive=5)
    last = feed(strict, MTN, "1" * 10 + "00000")
    assert strict.circuit(MTN, last) is CircuitState.OPEN
    assert strict.health(MTN, last).consecutive_failures == 5
    assert not strict.allow_request(MTN, last + SEC)


def test_circuit_opens_on_failure_rate_once_the_minimum_volume_is_reached():
    """Nine failures are below the minimum volume of ten; the tenth failure opens it."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "0" * 9)
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=last + SEC))
    assert tracker.circuit(MTN, last + SEC) is CircuitState.OPEN


def test_eight_failures_in_ten_reach_the_threshold():
    """Eight of ten samples failing (never three in a row) reaches the 80 % threshold."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "001001000")
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=last + SEC))
    assert tracker.circuit(MTN, last + SEC) is CircuitState.OPEN


def test_a_degraded_provider_stays_closed():
    """A 40 % (and even a 60 %) failure rate stays closed: degraded is routing's business."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "11100" * 20)
    assert tracker.circuit(MTN, last) is CircuitState.CLOSED
    last = feed(tracker, TEL, "10100" * 20)
    assert tracker.circuit(TEL, last) is CircuitState.CLOSED
    assert tracker.health(TEL, last).failure_rate == pytest.approx(
        37 / 61
    )  # 60 s window, ends inclusive


def test_failures_spread_wider_than_the_breaker_window_do_not_add_up():
    """Only samples within breaker_window count: nine old failures and one new one stay closed."""
    tracker = HealthTracker(breaker_window=timedelta(seconds=60))
    feed(tracker, MTN, "0" * 9)
    late = T0 + 70 * SEC
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=late))
    assert tracker.circuit(MTN, late) is CircuitState.CLOSED
    assert tracker.health(MTN, late).volume == 1


def test_accepted_submits_are_healthy_samples():
    """10 % 5xx and 10 % timeouts on submit, the rest accepted then confirmed: stays closed.

    The same answers without the accepted submits, with timeouts as definite failures
    and the old threshold (50 %: the accounting before), open the circuit.
    """
    tracker = HealthTracker()
    before = HealthTracker(open_failure_rate=0.5)
    at = T0
    for i in range(1_000):
        at = T0 + i * SEC / 10
        if i % 10 in {3, 7}:  # 5xx after submit / read timeout: may have reached MTN
            tracker.record(HealthSample.of(MTN, SampleKind.AMBIGUOUS, 2_000, at))
            before.record(HealthSample(MTN, ok=False, latency_ms=2_000, at=at))
            continue
        tracker.record(HealthSample.of(MTN, SampleKind.ACCEPTED, 300, at))
        if i % 5 == 0:  # approvals and declines; only some answers come back confirmed
            tracker.record(HealthSample.of(MTN, SampleKind.CONFIRMED, 300, at))
            before.record(HealthSample(MTN, ok=True, latency_ms=300, at=at))
    assert tracker.circuit(MTN, at) is CircuitState.CLOSED
    assert before.circuit(MTN, at) is not CircuitState.CLOSED


def test_ambiguous_failures_weigh_less_than_definite_ones():
    """80 % definite failures open the circuit; the same share of timeouts does not."""
    definite, ambiguous = HealthTracker(), HealthTracker()
    pattern = "0000000101" * 3  # 80 % failing
    for i, ch in enumerate(pattern):
        at = T0 + i * SEC
        if ch == "1":
            for tracker in (definite, ambiguous):
                tracker.record(HealthSample.of(MTN, SampleKind.ACCEPTED, 100, at))
        else:
            definite.record(HealthSample.of(MTN, SampleKind.FAILED, 100, at))
            ambiguous.record(HealthSample.of(MTN, SampleKind.AMBIGUOUS, 100, at))
    last = T0 + len(pattern) * SEC
    assert definite.circuit(MTN, last) is CircuitState.OPEN
    assert ambiguous.circuit(MTN, last) is CircuitState.CLOSED
    assert ambiguous.health(MTN, last).failure_rate == pytest.approx(12 / (12 + 6))


def test_a_provider_that_only_times_out_opens():
    """Ambiguous answers alone are a 100 % failure rate once the minimum volume is there."""
    tracker = HealthTracker()
    at = T0
    for i in range(10):
        at = T0 + i * SEC
        tracker.record(HealthSample.of(TEL, SampleKind.AMBIGUOUS, 10_000, at))
    assert tracker.circuit(TEL, at) is CircuitState.OPEN


def test_open_circuit_says_when_probes_may_go():
    """An open circuit exposes retry_at (opened + cool-down); half-open allows a probe."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    snap = tracker.snapshot(opened + SEC)
    assert snap[MTN].retry_at == opened + 30 * SEC
    assert not snap[MTN].probe_allowed
    assert snap[TEL].retry_at is None
    assert earliest_retry(snap.values()) == opened + 30 * SEC
    later = tracker.snapshot(opened + 30 * SEC)[MTN]
    assert later.circuit is CircuitState.HALF_OPEN
    assert later.probe_allowed
    assert later.retry_at is None
    assert earliest_retry(tracker.snapshot(opened + 30 * SEC).values()) is None


def test_circuit_full_cycle_open_half_open_closed():
    """Open → (cool-down) half-open with a single probe → success closes."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    assert tracker.circuit(MTN, opened + 29 * SEC) is CircuitState.OPEN
    assert not tracker.allow_request(MTN, opened + 29 * SEC)
    probe_time = opened + 30 * SEC
    assert tracker.snapshot(probe_time)[MTN].circuit is CircuitState.HALF_OPEN
    assert tracker.allow_request(MTN, probe_time)
    assert not tracker.allow_request(MTN, probe_time + SEC)  # only one probe
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe_time + 2 * SEC))
    assert tracker.circuit(MTN, probe_time + 2 * SEC) is CircuitState.CLOSED
    assert tracker.allow_request(MTN, probe_time + 3 * SEC)


def test_an_accepted_probe_closes_the_circuit():
    """A probe whose submit the provider accepts is enough: the provider answers again."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    probe = opened + 31 * SEC
    tracker.record(HealthSample.of(MTN, SampleKind.ACCEPTED, 300, probe))
    assert tracker.circuit(MTN, probe) is CircuitState.CLOSED


def test_failed_probe_reopens_for_another_cool_down():
    """A failure in half-open reopens the circuit from the probe's time."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    probe_time = opened + 31 * SEC
    assert tracker.allow_request(MTN, probe_time)
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=probe_time + SEC))
    assert tracker.circuit(MTN, probe_time + 2 * SEC) is CircuitState.OPEN
    assert tracker.circuit(MTN, probe_time + 31 * SEC) is CircuitState.HALF_OPEN


def test_one_ambiguous_probe_answer_does_not_reopen_two_do():
    """In half-open a timeout weighs half a failure: the second one reopens the circuit."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    probe = opened + 31 * SEC
    tracker.record(HealthSample.of(MTN, SampleKind.AMBIGUOUS, 5_000, probe))
    assert tracker.circuit(MTN, probe) is CircuitState.HALF_OPEN
    tracker.record(HealthSample.of(MTN, SampleKind.AMBIGUOUS, 5_000, probe + SEC))
    assert tracker.circuit(MTN, probe + SEC) is CircuitState.OPEN


def test_several_probe_successes_can_be_required():
    """With close_after_successes=3 the third healthy probe answer closes the circuit."""
    tracker = HealthTracker(close_after_successes=3)
    opened = feed(tracker, MTN, TRIP)
    probe = opened + 31 * SEC
    for i in range(2):
        tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe + i * SEC))
        assert tracker.circuit(MTN, probe + i * SEC) is CircuitState.HALF_OPEN
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe + 2 * SEC))
    assert tracker.circuit(MTN, probe + 2 * SEC) is CircuitState.CLOSED


def test_lost_probe_frees_its_slot_after_cool_down():
    """A probe that never reports does not wedge the breaker in half-open."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    opened = feed(tracker, MTN, TRIP)
    probe_time = opened + 30 * SEC
    assert tracker.allow_request(MTN, probe_time)
    assert not tracker.allow_request(MTN, probe_time + 29 * SEC)
    assert tracker.allow_request(MTN, probe_time + 30 * SEC)


def test_late_answers_while_open_do_not_close():
    """A success arriving during the cool-down (a request sent earlier) keeps it open."""
    tracker = HealthTracker()
    opened = feed(tracker, MTN, TRIP)
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=opened + SEC))
    assert tracker.circuit(MTN, opened + 2 * SEC) is CircuitState.OPEN


def test_reclosed_circuit_does_not_reopen_on_old_failure_rate():
    """After closing, the failure-rate trigger only counts samples since the close."""
    tracker = HealthTracker(cool_down=timedelta(seconds=30))
    last = feed(tracker, MTN, "0001000000")  # opens on rate at sample 10
    assert tracker.circuit(MTN, last) is CircuitState.OPEN
    probe = last + 40 * SEC
    assert tracker.allow_request(MTN, probe)
    tracker.record(HealthSample(MTN, ok=True, latency_ms=100, at=probe))
    tracker.record(HealthSample(MTN, ok=False, latency_ms=100, at=probe + SEC))
    assert tracker.circuit(MTN, probe + SEC) is CircuitState.CLOSED


def test_providers_are_independent():
    """One provider's failures do not affect another."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, TRIP)
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
def test_failures_filling_the_breaker_window_always_trip(oks):
    """Whatever came before, a breaker window (60 s) of nothing but failures is not closed."""
    tracker = HealthTracker()
    last = feed(tracker, MTN, "".join("1" if ok else "0" for ok in oks))
    last = feed(tracker, MTN, "0" * 61, last + SEC)
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
        {"min_volume": 0},
        {"ambiguous_weight": 0},
        {"close_after_successes": 0},
    ],
)
def test_tracker_rejects_nonsense(bad):
    """A tracker that could never work fails fast."""
    with pytest.raises(ValidationError):
        HealthTracker(**bad)


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (ProviderOutcome.succeeded("tx"), SampleKind.CONFIRMED),
        (ProviderOutcome.pending(), SampleKind.ACCEPTED),
        (ProviderOutcome.failed(FailureReason.PROVIDER_UNAVAILABLE), SampleKind.FAILED),
        (ProviderOutcome.failed(FailureReason.OTHER), SampleKind.FAILED),
        (ProviderOutcome.transient("429"), SampleKind.REFUSED),
        (ProviderOutcome.unknown("timeout"), SampleKind.AMBIGUOUS),
        (ProviderOutcome.failed(FailureReason.INSUFFICIENT_FUNDS), None),
        (ProviderOutcome.failed(FailureReason.REJECTED_BY_PAYER), None),
        (ProviderOutcome.not_found(), None),
    ],
)
def test_what_each_provider_answer_says_about_the_provider(outcome, kind):
    """Accepted and confirmed are healthy, timeouts ambiguous, customer declines nothing."""
    sample = sample_for(MTN, outcome, 250, T0, TransferKind.SAME_NETWORK)
    if kind is None:
        assert sample is None
        return
    assert sample is not None
    assert (kind, kind.healthy, TransferKind.SAME_NETWORK) == (
        sample.kind,
        sample.ok,
        sample.transfer,
    )


def test_a_sample_kind_must_agree_with_ok():
    """A confirmed sample marked not ok is a bug at the caller, refused."""
    with pytest.raises(ValidationError):
        HealthSample(MTN, ok=False, latency_ms=100, at=T0, kind=SampleKind.CONFIRMED)


def test_success_estimate_counts_final_outcomes_only():
    """Accepted submits and timeouts leave the success estimate alone; confirmations move it."""
    tracker = HealthTracker()
    for i in range(20):
        tracker.record(HealthSample.of(MTN, SampleKind.ACCEPTED, 100, T0 + i * SEC))
        tracker.record(HealthSample.of(MTN, SampleKind.AMBIGUOUS, 100, T0 + i * SEC))
    assert tracker.health(MTN, T0 + 20 * SEC).success_rate == pytest.approx(0.95)
    feed(tracker, MTN, "1110", T0 + 30 * SEC)
    assert tracker.health(MTN, T0 + 40 * SEC).success_rate == pytest.approx((3 + 4.75) / 9)


def test_estimates_per_transfer_kind_shrink_to_the_provider_and_narrow_with_data():
    """Cross-network failures lower that kind's estimate more than the provider's; sd shrinks."""
    tracker = HealthTracker(open_failure_rate=1.1)
    cross, same = TransferKind.CROSS_NETWORK, TransferKind.SAME_NETWORK
    for i in range(40):
        at = T0 + i * SEC
        tracker.record(HealthSample.of(MTN, SampleKind.CONFIRMED, 100, at, same))
        kind = SampleKind.CONFIRMED if i % 2 else SampleKind.FAILED
        tracker.record(HealthSample.of(MTN, kind, 100, at, cross))
    h = tracker.health(MTN, T0 + 41 * SEC)
    overall = (60 + 4.75) / 85
    assert h.success_rate == pytest.approx(overall)
    assert h.estimate(cross).mean == pytest.approx((20 + 10 * overall) / 50)
    assert h.estimate(same).mean > h.success_rate > h.estimate(cross).mean
    assert h.estimate(TransferKind.MERCHANT_PAYMENT).mean == h.success_rate
    assert h.estimate(None).mean == h.success_rate
    empty = HealthTracker().health(MTN, T0)
    assert h.success_sd < empty.success_sd
