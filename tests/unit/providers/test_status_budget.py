"""The status-query budget: a gateway wrapper that spends a token bucket per provider."""

from __future__ import annotations

import pytest

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.memory.ratelimit import MemoryRateLimiter
from synccash.adapters.providers.budget import BudgetedGateway, bucket_shape, budgeted
from synccash.adapters.settings import Settings, SettingsError
from synccash.core.outcomes import OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId


def test_bucket_never_passes_the_budget_in_one_second():
    """Capacity + one second of refill is the budget (150/s: burst 15, refill 135/s)."""
    assert bucket_shape(150) == (15, 135.0)
    capacity, rate = bucket_shape(7)
    assert capacity + rate == 7


def test_budgets_setting_defaults_to_mtns_150_per_second():
    """STATUS_QUERY_BUDGETS is mtn=150 by default and takes any provider=per-second list."""
    assert dict(Settings.from_env({}).status_query_budgets) == {ProviderId.MTN: 150}
    custom = Settings.from_env({"STATUS_QUERY_BUDGETS": "mtn=100, telecel=20"})
    assert dict(custom.status_query_budgets) == {ProviderId.MTN: 100, ProviderId.TELECEL: 20}
    assert dict(Settings.from_env({"STATUS_QUERY_BUDGETS": ""}).status_query_budgets) == {}


@pytest.mark.parametrize("raw", ["mtn", "mtn=0", "mtn=fast", "paypal=5"])
def test_a_bad_budget_is_a_settings_error(raw):
    """Every malformed entry is refused, naming the setting."""
    with pytest.raises(SettingsError, match="STATUS_QUERY_BUDGETS"):
        Settings.from_env({"STATUS_QUERY_BUDGETS": raw})


async def test_status_beyond_the_budget_is_not_sent():
    """With the bucket empty and no time to wait, the query answers TRANSIENT unsent."""
    inner = FakeProviderGateway()
    limiter = MemoryRateLimiter(capacity=2, per_second=1, clock=ManualClock())
    gateway = BudgetedGateway(inner, {ProviderId.MTN: limiter}, max_wait_seconds=0.0)
    outcomes = [
        await gateway.status(ProviderId.MTN, AttemptKind.COLLECT, f"r{i}") for i in range(3)
    ]
    assert [o.provider_code for o in outcomes][-1] == "status_budget"
    assert outcomes[-1].kind is OutcomeKind.TRANSIENT
    assert outcomes[-1].retry_after_seconds == pytest.approx(1.0)
    assert inner.status_calls == ["r0", "r1"]


async def test_other_providers_and_egress_addresses_have_their_own_budget():
    """Only budgeted providers are held back; each egress address has its own bucket."""
    inner = FakeProviderGateway()
    limiter = MemoryRateLimiter(capacity=1, per_second=1, clock=ManualClock())
    first = BudgetedGateway(inner, {ProviderId.MTN: limiter}, egress="ip-a", max_wait_seconds=0)
    second = BudgetedGateway(inner, {ProviderId.MTN: limiter}, egress="ip-b", max_wait_seconds=0)
    await first.status(ProviderId.MTN, AttemptKind.COLLECT, "a1")
    await second.status(ProviderId.MTN, AttemptKind.COLLECT, "b1")
    await first.status(ProviderId.TELECEL, AttemptKind.COLLECT, "t1")
    refused = await first.status(ProviderId.MTN, AttemptKind.COLLECT, "a2")
    assert (refused.provider_code, inner.status_calls) == ("status_budget", ["a1", "b1", "t1"])


async def test_a_query_waits_for_the_next_token_within_max_wait():
    """A token due within max_wait is waited for (real time: 20 per second here)."""
    inner = FakeProviderGateway()
    limiter = MemoryRateLimiter(capacity=1, per_second=20)
    gateway = BudgetedGateway(inner, {ProviderId.MTN: limiter}, max_wait_seconds=1.0)
    for i in range(3):
        outcome = await gateway.status(ProviderId.MTN, AttemptKind.COLLECT, f"r{i}")
        assert outcome.provider_code != "status_budget"
    assert inner.status_calls == ["r0", "r1", "r2"]


def test_no_budgets_leave_the_gateway_as_it_is():
    """budgeted() with nothing to budget returns the gateway itself."""
    inner = FakeProviderGateway()
    assert budgeted(inner, {}, redis=None, clock=ManualClock()) is inner
