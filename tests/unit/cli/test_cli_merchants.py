"""`synccash merchant` and `synccash apikey` on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synccash.cli.main import app


@pytest.fixture
def db_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The CLI environment with its own SQLite database."""
    return {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite3'}"}


def test_merchants_are_created_listed_and_disabled(runner: CliRunner, db_env: dict[str, str]):
    """create -> list shows it active with its sub-account; disable -> list shows disabled."""
    created = runner.invoke(
        app,
        ["merchant", "create", "shop-42", "--name", "Shop 42", "--account", "shop-42-till"],
        env=db_env,
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["merchant", "list", "--json"], env=db_env)
    [merchant] = json.loads(listed.stdout)
    assert (merchant["id"], merchant["status"], merchant["accounts"]) == (
        "shop-42",
        "active",
        ["shop-42-till"],
    )
    assert runner.invoke(app, ["merchant", "disable", "shop-42"], env=db_env).exit_code == 0
    [merchant] = json.loads(runner.invoke(app, ["merchant", "list", "--json"], env=db_env).stdout)
    assert merchant["status"] == "disabled"


def test_duplicate_and_unknown_merchants_are_one_line_errors(
    runner: CliRunner, db_env: dict[str, str]
):
    """A taken id and an unknown id exit 2 with a message, no traceback."""
    runner.invoke(app, ["merchant", "create", "shop-42"], env=db_env)
    again = runner.invoke(app, ["merchant", "create", "shop-42"], env=db_env)
    assert again.exit_code == 2
    assert "already exists [merchant_exists]" in again.stderr
    missing = runner.invoke(app, ["merchant", "disable", "nobody"], env=db_env)
    assert missing.exit_code == 2
    assert "Traceback" not in missing.output
    bad = runner.invoke(app, ["merchant", "create", "bad id"], env=db_env)
    assert (bad.exit_code, "invalid_merchant_id" in bad.stderr) == (2, True)


def test_api_keys_are_shown_once_listed_by_prefix_and_revoked(
    runner: CliRunner, db_env: dict[str, str]
):
    """create prints the key alone on the last line; list shows only its prefix; revoke records when."""
    runner.invoke(app, ["merchant", "create", "shop-42"], env=db_env)
    created = runner.invoke(
        app,
        [
            "apikey",
            "create",
            "--merchant",
            "shop-42",
            "--scope",
            "payments:read",
            "--expires-days",
            "30",
        ],
        env=db_env,
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk_test_")
    listed = runner.invoke(app, ["apikey", "list", "--merchant", "shop-42", "--json"], env=db_env)
    assert secret not in listed.stdout
    [key] = json.loads(listed.stdout)
    assert (key["scopes"], key["revoked_at"]) == (["payments:read"], None)
    assert secret.startswith(key["prefix"])
    assert key["expires_at"] is not None
    revoked = runner.invoke(app, ["apikey", "revoke", key["id"]], env=db_env)
    assert revoked.exit_code == 0, revoked.output
    [key] = json.loads(runner.invoke(app, ["apikey", "list", "--json"], env=db_env).stdout)
    assert key["revoked_at"] is not None


def test_keys_need_a_registered_merchant_and_known_scopes(
    runner: CliRunner, db_env: dict[str, str]
):
    """No key for an unknown merchant or an unknown scope: exit 2, nothing printed on stdout."""
    unknown = runner.invoke(app, ["apikey", "create", "--merchant", "ghost"], env=db_env)
    assert (unknown.exit_code, unknown.stdout) == (2, "")
    assert "merchant_not_found" in unknown.stderr
    runner.invoke(app, ["merchant", "create", "shop-42"], env=db_env)
    scope = runner.invoke(
        app, ["apikey", "create", "-m", "shop-42", "-s", "payments:delete"], env=db_env
    )
    assert (scope.exit_code, scope.stdout) == (2, "")
    ops = runner.invoke(app, ["apikey", "create", "-m", "shop-42", "-s", "ops"], env=db_env)
    assert (ops.exit_code, ops.stdout) == (
        2,
        "",
    )  # a merchant's key never gets the operators' scope
