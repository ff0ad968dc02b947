"""A clock tests can move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Time stands still until a test advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        """Start at `start` (default 2026-01-15 10:00 UTC)."""
        self._now = start or datetime(2026, 1, 15, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current (frozen) time."""
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move time forward, e.g. advance(seconds=30)."""
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to a given time."""
        self._now = when
