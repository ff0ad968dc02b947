"""What the worker counts from relayed audit events and from timed provider calls."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.providers.metered import MeteredGateway
from synccash.api.observability import ApiMetrics
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId
from synccash.worker.metrics import WorkerMetrics


def _value(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _payload(state: str, **data: Any) -> dict[str, Any]:
    return {
        "state": state,
        "kind": "collection",
        "amount": "12.50",
        "currency": "GHS",
        "provider": "mtn",
        "data": data,
    }


def test_final_states_count_with_their_amount_and_other_events_do_not() -> None:
    """payment.confirmed counts once with 12.50 GHS; a payment.pending does not count."""
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.observe_event("payment.confirmed", _payload("CONFIRMED", reason="provider confirmed"))
    metrics.observe_event("payment.pending", _payload("PENDING", reason="route chosen"))
    labels = {"kind": "collection", "state": "CONFIRMED", "provider": "mtn"}
    assert _value(registry, "synccash_payments_finished_total", labels) == 1
    assert (
        _value(
            registry,
            "synccash_payment_amount_ghs_sum",
            {"kind": "collection", "state": "CONFIRMED"},
        )
        == 12.5
    )
    pending = {"kind": "collection", "state": "PENDING", "provider": "mtn"}
    assert _value(registry, "synccash_payments_finished_total", pending) == 0


def test_a_failover_counts_against_the_provider_that_failed() -> None:
    """A pending transition whose reason is a failover counts one failover."""
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.observe_event(
        "payment.pending", _payload("PENDING", reason="failover after insufficient_funds")
    )
    assert _value(registry, "synccash_failovers_total", {"provider": "mtn"}) == 1


async def test_metered_gateway_times_every_call_and_passes_answers_through() -> None:
    """The wrapper reports (provider, operation, outcome, seconds) and returns the inner answer."""
    seen: list[tuple[str, str, str, float]] = []
    inner = FakeProviderGateway()
    gateway = MeteredGateway(inner, lambda *call: seen.append(call))
    msisdn = Msisdn.parse("0241234567")
    info = await gateway.lookup(ProviderId.MTN, msisdn)
    assert info == await inner.lookup(ProviderId.MTN, msisdn)
    assert [(p, o, r) for p, o, r, _ in seen] == [
        ("mtn", "lookup", "active" if info.active else "inactive")
    ]
    assert all(seconds >= 0 for *_, seconds in seen)


def test_api_metrics_show_circuit_state_per_provider() -> None:
    """set_providers turns the health snapshot into 0/1/2 circuit gauges and success rates."""
    metrics = ApiMetrics()
    metrics.set_providers(
        {
            "mtn": {"circuit": "closed", "success_rate": 0.97},
            "telecel": {"circuit": "open", "success_rate": 0.2},
            "airteltigo": {"status": "unknown"},
        }
    )
    text = metrics.render().decode()
    assert 'synccash_provider_circuit_state{provider="mtn"} 0.0' in text
    assert 'synccash_provider_circuit_state{provider="telecel"} 2.0' in text
    assert 'synccash_provider_success_rate{provider="mtn"} 0.97' in text
    assert 'provider="airteltigo"' not in text
