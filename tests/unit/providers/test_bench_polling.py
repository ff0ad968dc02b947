"""bench-polling's peak-rate measure (the bench itself is a command, never a timed test)."""

from __future__ import annotations

from synccash.bench.polling import _peak_per_second


def test_peak_is_the_most_queries_in_any_one_second_window():
    """A sliding one-second window: 3 queries within 0.9 s count as 3, across 1.5 s not."""
    assert _peak_per_second([0.0, 0.5, 0.9, 2.0, 3.4]) == 3
    assert _peak_per_second([0.0, 1.0, 2.0]) == 1
    assert _peak_per_second([]) == 0
