"""In-memory ProviderHealthStore over the core's HealthTracker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, HealthTracker, ProviderHealth


class InMemoryHealthStore:
    """Provider health kept in this process (embedded mode and tests)."""

    def __init__(self, tracker: HealthTracker | None = None) -> None:
        """Use the given tracker or a default one."""
        self.tracker = tracker or HealthTracker()

    async def record(self, sample: HealthSample) -> None:
        """Record one provider outcome."""
        self.tracker.record(sample)

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """Health of every provider now."""
        return self.tracker.snapshot(now)
