"""Announced maintenance windows per provider, shown to routing as an open circuit.

Providers announce maintenance (MTN, Telecel and AT all take their platforms down for
hours, usually at night). `PROVIDER_MAINTENANCE_WINDOWS` lists them:
`mtn=2026-12-20T01:00Z/2026-12-20T04:00Z;telecel=2026-12-21T00:00+00:00/2026-12-21T02:00+00:00`.
`MaintenanceAwareHealth` wraps the health store: during a provider's window its snapshot
entry has an OPEN circuit with `retry_at` at the window's end, so the router's existing
circuit filter avoids it and a payment with no other wallet waits until the window
closes (the core's "every circuit open" rule), without learning it from failures. The
detailed health endpoint shows the provider as open until then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from attrs import evolve, frozen

from synccash.core.errors import DomainError
from synccash.core.ports import ProviderHealthStore
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, HealthSample, ProviderHealth


@frozen
class MaintenanceWindow:
    """One announced window, [start, end) in UTC."""

    provider: ProviderId
    start: datetime
    end: datetime

    def covers(self, now: datetime) -> bool:
        """True while the window is open."""
        return self.start <= now < self.end


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or +00:00)")
    return value.astimezone(UTC)


def parse_windows(raw: str) -> tuple[MaintenanceWindow, ...]:
    """`provider=start/end;...` (ISO 8601 with a zone) -> windows; ValueError saying why."""
    windows: list[MaintenanceWindow] = []
    for part in (p.strip() for p in raw.split(";")):
        if not part:
            continue
        name, sep, span = part.partition("=")
        start, slash, end = span.partition("/")
        if not sep or not slash:
            raise ValueError(f"expected provider=start/end, got {part!r}")
        try:
            provider = ProviderId.parse(name.strip())
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        window = MaintenanceWindow(provider, _instant(start), _instant(end))
        if window.end <= window.start:
            raise ValueError(f"window {part!r} ends before it starts")
        windows.append(window)
    return tuple(windows)


def _closed_until(provider: ProviderId, end: datetime) -> ProviderHealth:
    """A snapshot entry for a provider with no data yet, closed by maintenance."""
    return ProviderHealth(provider, 1.0, 0, 0, 0, circuit=CircuitState.OPEN, retry_at=end)


class MaintenanceAwareHealth:
    """ProviderHealthStore: `inner`'s snapshot with providers in maintenance shown OPEN."""

    def __init__(self, inner: ProviderHealthStore, windows: Sequence[MaintenanceWindow]) -> None:
        """Wrap `inner`; `windows` from `parse_windows`."""
        self._inner = inner
        self._windows = tuple(windows)

    def window(self, provider: ProviderId, now: datetime) -> MaintenanceWindow | None:
        """The provider's window open at `now`, if any."""
        return next((w for w in self._windows if w.provider is provider and w.covers(now)), None)

    async def record(self, sample: HealthSample) -> None:
        """Record one outcome (unchanged)."""
        await self._inner.record(sample)

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """The inner snapshot, each provider in a window OPEN until the window ends."""
        health = dict(await self._inner.snapshot(now))
        for provider in ProviderId:
            window = self.window(provider, now)
            if window is None:
                continue
            known = health.get(provider)
            health[provider] = (
                _closed_until(provider, window.end)
                if known is None
                else evolve(known, circuit=CircuitState.OPEN, retry_at=window.end)
            )
        return health


def with_maintenance(
    health: ProviderHealthStore, windows: Sequence[MaintenanceWindow]
) -> ProviderHealthStore:
    """`health` wrapped when there are windows, else `health` itself."""
    return MaintenanceAwareHealth(health, windows) if windows else health
