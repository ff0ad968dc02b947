"""deploy/monitoring (Grafana dashboard, Prometheus alerts) only names metrics we export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from synccash.api.observability import ApiMetrics
from synccash.worker.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = yaml.safe_load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
METRIC_RE = re.compile(r"\bsynccash_[a-z0-9_]+")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported() -> set[str]:
    """Every series name the API and the worker can expose."""
    registries = [ApiMetrics().registry]
    worker_registry = CollectorRegistry()
    WorkerMetrics(worker_registry)
    registries.append(worker_registry)
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + s for s in _SUFFIXES.get(family.type, ("",)))
    return names


EXPORTED = _exported()


def _unknown(expr: str) -> list[str]:
    return sorted(set(METRIC_RE.findall(expr)) - EXPORTED)


def _alert_rules() -> list[dict[str, Any]]:
    return [rule for group in ALERTS["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]


def test_the_checker_finds_a_misspelt_metric() -> None:
    """A name we do not export is reported (so the checks below can fail)."""
    assert _unknown("rate(synccash_payments_finishd_total[5m])") == [
        "synccash_payments_finishd_total"
    ]
    assert _unknown("rate(synccash_payments_finished_total[5m])") == []


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_names_exported_metrics_and_says_what_it_means(rule: dict[str, Any]) -> None:
    """Each rule's expression uses exported metrics only; it has a severity and a summary."""
    assert METRIC_RE.search(rule["expr"]), rule["alert"]
    assert _unknown(rule["expr"]) == []
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]


@pytest.mark.parametrize("expr", _dashboard_exprs())
def test_every_dashboard_query_names_exported_metrics(expr: str) -> None:
    """Each panel query uses exported metrics only."""
    assert METRIC_RE.search(expr)
    assert _unknown(expr) == []


def test_dashboard_panels_have_unique_ids_and_no_overlap() -> None:
    """Grafana needs unique panel ids; panels sharing a grid cell would hide each other."""
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        pos = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not mine & cells, panel["title"]
        cells |= mine


def test_money_pipeline_and_provider_metrics_are_all_on_the_dashboard() -> None:
    """What ops people alert on is also what they can see."""
    shown = {m for e in _dashboard_exprs() for m in METRIC_RE.findall(e)}
    for metric in (
        "synccash_payments_finished_total",
        "synccash_payment_amount_ghs_sum",
        "synccash_provider_call_seconds_bucket",
        "synccash_provider_circuit_state",
        "synccash_failovers_total",
        "synccash_worker_queue_lag_seconds_bucket",
        "synccash_worker_outbox_lag_seconds_bucket",
        "synccash_worker_webhook_attempts_total",
    ):
        assert metric in shown
