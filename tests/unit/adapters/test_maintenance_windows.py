"""Announced maintenance windows: routing avoids the provider without learning from failures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from synccash.adapters.bootstrap import wire
from synccash.adapters.maintenance import MaintenanceAwareHealth, parse_windows, with_maintenance
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.health import InMemoryHealthStore
from synccash.adapters.settings import Settings, SettingsError
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState
from synccash.core.routing import Router, RoutingRequest

WINDOW = "mtn=2026-12-20T01:00Z/2026-12-20T04:00Z"
DURING = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
AFTER = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)


def test_windows_are_parsed_from_the_setting():
    """provider=start/end with a zone; several separated by ';'."""
    settings = Settings.from_env(
        {
            "PROVIDER_MAINTENANCE_WINDOWS": f"{WINDOW}; telecel=2026-12-21T00:00+00:00/2026-12-21T01:00+00:00"
        }
    )
    providers = [w.provider for w in settings.maintenance_windows]
    assert providers == [ProviderId.MTN, ProviderId.TELECEL]
    assert settings.maintenance_windows[0].end == AFTER


@pytest.mark.parametrize(
    "raw",
    [
        "mtn",
        "mtn=2026-12-20T01:00Z",
        "mtn=2026-12-20T04:00Z/2026-12-20T01:00Z",
        "mtn=2026-12-20T01:00/2026-12-20T04:00",
        "paypal=2026-12-20T01:00Z/2026-12-20T04:00Z",
    ],
)
def test_a_bad_window_is_a_settings_error(raw):
    """Missing end, reversed, without a zone or for an unknown provider: refused, naming it."""
    with pytest.raises(SettingsError, match="PROVIDER_MAINTENANCE_WINDOWS"):
        Settings.from_env({"PROVIDER_MAINTENANCE_WINDOWS": raw})


async def test_provider_in_its_window_is_open_until_the_window_ends():
    """The snapshot shows MTN OPEN with retry_at at the window's end, and closed after it."""
    health = with_maintenance(InMemoryHealthStore(), parse_windows(WINDOW))
    assert isinstance(health, MaintenanceAwareHealth)
    during = await health.snapshot(DURING)
    assert (during[ProviderId.MTN].circuit, during[ProviderId.MTN].retry_at) == (
        CircuitState.OPEN,
        AFTER,
    )
    after = (await health.snapshot(AFTER)).get(ProviderId.MTN)
    assert after is None or after.circuit is CircuitState.CLOSED


async def test_the_router_routes_around_a_provider_in_maintenance():
    """With MTN in its window the real router picks Telecel, by its circuit filter."""
    health = with_maintenance(InMemoryHealthStore(), parse_windows(WINDOW))
    payer = Msisdn.parse("0241234567")
    wallets = (
        Wallet(ProviderId.MTN, payer),
        Wallet(ProviderId.TELECEL, Msisdn.parse("0201234567")),
    )
    request = RoutingRequest(
        Money.parse("50"), wallets, Payee(msisdn=Msisdn.parse("0551234567")), date(2026, 12, 20)
    )
    during = Router().decide(request, health=await health.snapshot(DURING), seed=1)
    after = Router().decide(request, health=await health.snapshot(AFTER), seed=1)
    assert during.chosen.wallet.provider is ProviderId.TELECEL
    assert "circuit_open" in {r.code for r in during.rejected}
    assert after.chosen is not None


def test_no_windows_leave_the_store_as_it_is():
    """Without windows the health store is not wrapped."""
    store = InMemoryHealthStore()
    assert with_maintenance(store, ()) is store


async def test_the_health_check_shows_the_window():
    """check_providers (the detailed health endpoint's data) names the window's end."""
    settings = Settings.from_env({"PROVIDER_MAINTENANCE_WINDOWS": WINDOW})
    health = with_maintenance(InMemoryHealthStore(), settings.maintenance_windows)
    container = wire(settings, health=health, clock=ManualClock(DURING))
    mtn = (await container.check_providers())["mtn"]
    assert (mtn["status"], mtn["maintenance_until"]) == ("down", AFTER.isoformat())
