"""Docker, compose and .env.example cannot drift from the code.

Docker does not run on this machine; these tests parse the files and check every
command against the real Typer app, every variable against the settings, and every
health-check URL against the API's routes.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_checks import UsageError, resolve, served_paths

from synccash.adapters.settings import VARIABLES
from synccash.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = sorted(
    name for name, svc in SERVICES.items() if svc.get("image") == "synccash:local"
)
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\"\s]*)")


def _dockerfile_json(instruction: str) -> list[str]:
    match = re.search(rf"^{instruction}\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert match is not None, f"no exec-form {instruction} in the Dockerfile"
    return list(json.loads(match.group(1)))


def _env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            assert name not in entries, f"{name} is listed twice"
            entries[name] = value
    return entries


def test_resolver_rejects_unknown_commands_and_options():
    """The checker itself fails on a wrong command line (so the tests below can fail)."""
    with pytest.raises(UsageError):
        resolve(["worker", "--threads", "4"])
    with pytest.raises(UsageError):
        resolve(["frobnicate"])
    with pytest.raises(UsageError):
        resolve(["api", "--port", "eighty"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_app_service_runs_a_real_cli_command(service):
    """Each compose service built from our image runs a `synccash` command the app accepts."""
    command = SERVICES[service]["command"]
    assert isinstance(command, list), "use the exec form so signals reach the process"
    ctx = resolve(command)
    assert ctx.command.callback is not None


def test_app_services_cover_every_role():
    """migrate, api, worker and the sandboxes are all there; the worker carries the scheduler."""
    roles = {SERVICES[s]["command"][0] for s in APP_SERVICES}
    assert {"migrate", "api", "worker", "sandbox"} <= roles


def test_dockerfile_entrypoint_is_the_console_script_and_cmd_resolves():
    """ENTRYPOINT is `synccash` (declared in tools/pyproject.toml) and CMD is a real command."""
    assert _dockerfile_json("ENTRYPOINT") == ["synccash"]
    scripts = tomllib.loads((ROOT / "tools" / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]["scripts"]
    module, _, attr = scripts["synccash"].partition(":")
    assert getattr(import_module(module), attr) is app
    resolve(_dockerfile_json("CMD"))


def test_dockerfile_copies_paths_that_exist_and_runs_as_non_root():
    """Every COPY source from the build context exists; the runtime user is not root."""
    for match in re.finditer(
        r"^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+\s*$", DOCKERFILE, re.MULTILINE
    ):
        for source in shlex.split(match.group(1)):
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    # dependencies are installed before the sources are copied (layer caching)
    assert DOCKERFILE.index("--no-install-workspace") < DOCKERFILE.index("COPY packages packages")


def test_health_check_urls_are_served_routes():
    """The image HEALTHCHECK and the api service's check hit paths the API serves."""
    served = served_paths()
    image_check = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", DOCKERFILE, re.MULTILINE | re.DOTALL)
    assert image_check is not None
    checks = [" ".join(json.loads(image_check.group(1)))]
    checks.append(" ".join(SERVICES["api"]["healthcheck"]["test"]))
    for check in checks:
        match = URL_RE.search(check)
        assert match is not None, check
        assert match.group(1) == "8000"
        assert match.group(2) in served, f"{match.group(2)} is not an API route"
    assert "/api/v1/health/live" in served
    assert "/api/v1/health/detailed" in served


def test_worker_and_sandbox_health_checks_match_their_commands():
    """The worker is checked on its --metrics-port; the sandbox on its --port."""
    worker = SERVICES["worker"]
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    sandbox = SERVICES["sandbox"]
    port = sandbox["command"][sandbox["command"].index("--port") + 1]
    assert f"127.0.0.1:{port}/mtn/_admin/" in " ".join(sandbox["healthcheck"]["test"])


def test_depends_on_points_at_real_services_with_valid_conditions():
    """api and worker wait for a finished migration and healthy dependencies."""
    valid = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in SERVICES.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            assert spec["condition"] in valid
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency] or dependency in APP_SERVICES
    for name in ("api", "worker"):
        deps = SERVICES[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"


def test_compose_sets_only_variables_the_settings_read():
    """Every variable given to our services is one Settings reads, and the wiring is external."""
    for name in APP_SERVICES:
        env = SERVICES[name].get("environment") or {}
        unknown = sorted(set(env) - set(VARIABLES))
        assert not unknown, f"{name} sets variables the settings never read: {unknown}"
    api_env = SERVICES["api"]["environment"]
    assert api_env["SANDBOX_MODE"] == "external"
    assert api_env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert api_env["REDIS_URL"].startswith("redis://redis:")
    assert SERVICES["api"]["ports"] == ["8000:8000"]


def test_env_example_lists_exactly_the_settings_variables_with_defaults_and_comments():
    """`.env.example` ⇔ settings.VARIABLES, both ways, each with its default and a comment."""
    entries = _env_example()
    assert set(entries) == set(VARIABLES)
    for name, (default, _meaning) in VARIABLES.items():
        assert entries[name] == default, f"{name}: .env.example says {entries[name]!r}"
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"{line.split('=')[0]} has no comment above it"


def test_dockerignore_keeps_secrets_and_local_state_out():
    """.env, the virtualenv and SQLite files never enter the build context."""
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".env", ".venv", "*.sqlite3", ".git"):
        assert pattern in ignored
