"""deploy/kubernetes is valid Kubernetes, runs real commands, and stays in step with compose.

No cluster runs here: every object is validated offline against the Kubernetes JSON schemas
that `kubernetes-validate` ships (strict: unknown fields are errors), and the commands,
variables, probes and ports are checked against the code and docker-compose.yml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_checks import resolve, served_paths

from synccash.adapters.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31.0"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _objects(names: list[str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in names:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d)
    return docs


OBJECTS = _objects([*KUSTOMIZATION["resources"], "secret.example.yaml"])
BY_KIND: dict[tuple[str, str], dict[str, Any]] = {
    (o["kind"], o["metadata"]["name"]): o for o in OBJECTS
}


def _container(kind: str, name: str) -> dict[str, Any]:
    spec = BY_KIND[(kind, name)]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return dict(container)


def _workloads() -> list[dict[str, Any]]:
    return [_container("Deployment", n) for n in ("synccash-api", "synccash-worker")] + [
        _container("Job", "synccash-migrate")
    ]


def test_validator_rejects_an_invalid_object() -> None:
    """The schema check itself fails on a wrong field (so the test below can fail)."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_matches_the_kubernetes_schema(obj: dict[str, Any]) -> None:
    """Each manifest object is valid for the target Kubernetes version (strict)."""
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_set_has_api_worker_migrations_probes_budgets_and_autoscalers() -> None:
    """API and worker Deployments, a migrations Job, a PDB and an HPA for each Deployment."""
    kinds = set(BY_KIND)
    for name in ("synccash-api", "synccash-worker"):
        assert ("Deployment", name) in kinds
        assert ("PodDisruptionBudget", name) in kinds
        hpa = BY_KIND[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        labels = BY_KIND[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        selector = BY_KIND[("PodDisruptionBudget", name)]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
    assert ("Job", "synccash-migrate") in kinds
    assert "secret.example.yaml" not in KUSTOMIZATION["resources"]


@pytest.mark.parametrize("container", _workloads(), ids=lambda c: c["name"])
def test_every_container_runs_a_real_command_with_limits_as_non_root(
    container: dict[str, Any],
) -> None:
    """Args are a `synccash` command the CLI accepts; requests, limits, no privilege escalation."""
    assert resolve(container["args"]).command.callback is not None
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_probes_hit_served_paths_on_the_declared_ports() -> None:
    """API probes are API routes on its port; the worker's are its --metrics-port."""
    served = served_paths()
    api = _container("Deployment", "synccash-api")
    assert api["args"][api["args"].index("--port") + 1] == str(api["ports"][0]["containerPort"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["path"] in served
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready"
    worker = _container("Deployment", "synccash-worker")
    port = worker["args"][worker["args"].index("--metrics-port") + 1]
    assert str(worker["ports"][0]["containerPort"]) == port
    assert worker["livenessProbe"]["httpGet"]["path"] == "/metrics"


def test_configuration_uses_only_variables_the_settings_read() -> None:
    """ConfigMap and Secret keys are settings variables; secrets never sit in the ConfigMap."""
    config = set(BY_KIND[("ConfigMap", "synccash-config")]["data"])
    secret = set(BY_KIND[("Secret", "synccash-secrets")]["stringData"])
    assert not (config | secret) - set(VARIABLES)
    assert {"DATABASE_URL", "JWT_SECRET_KEY", "WEBHOOK_SECRET"} <= secret
    assert not config & {"DATABASE_URL", "JWT_SECRET_KEY", "WEBHOOK_SECRET"}


def test_roles_and_commands_match_docker_compose() -> None:
    """api, worker and migrate run the same commands as in docker-compose.yml."""
    services = COMPOSE["services"]
    pairs = {
        "api": _container("Deployment", "synccash-api"),
        "worker": _container("Deployment", "synccash-worker"),
        "migrate": _container("Job", "synccash-migrate"),
    }
    for role, container in pairs.items():
        assert services[role]["command"] == container["args"], role
    compose_env = set(services["api"]["environment"])
    k8s_env = set(BY_KIND[("ConfigMap", "synccash-config")]["data"]) | set(
        BY_KIND[("Secret", "synccash-secrets")]["stringData"]
    )
    # compose points every provider at the local sandboxes; Kubernetes carries what differs
    # per deployment, so only the provider base URLs may be missing here
    missing = {v for v in compose_env - k8s_env if not v.endswith("_BASE_URL")}
    assert not missing, f"set in docker-compose.yml but not in Kubernetes: {sorted(missing)}"
