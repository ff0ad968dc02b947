"""Every command's help, and the process commands' argument and start-up errors."""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest
import typer

from synccash.cli.main import app


def _leaf_commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    command = command if command is not None else typer.main.get_command(app)
    children = getattr(command, "commands", None)
    if not children:
        yield path
        return
    for name, child in children.items():
        yield from _leaf_commands(child, (*path, name))


LEAVES = sorted(_leaf_commands())


def test_the_app_has_every_documented_command():
    """The commands the README and compose rely on all exist."""
    expected = {
        ("serve",), ("api",), ("worker",), ("migrate",), ("bench",), ("sandbox", "run"),
        ("token", "mint"), ("route", "quote"), ("route", "simulate"), ("report", "daily"),
        ("pay", "initiate"), ("pay", "status"), ("pay", "cancel"), ("pay", "list"),
        ("payout", "create"), ("payout", "get"), ("payout", "list"), ("payout", "cancel"),
    }  # fmt: skip
    assert expected <= set(LEAVES)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_has_help_with_examples(runner, path):
    """`--help` works on every command and shows at least one example invocation."""
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert f"synccash {' '.join(path)}" in result.stdout


#: Python types as Typer shows them (`<int range>`, `<list[str]>`): help must name values instead.
PYTHON_TYPE = re.compile(r"<(?:str|int|float|bool|path|datetime|uuid|list\[[^\]]*\]|\w+ range)>")


@pytest.mark.parametrize("path", [(), *LEAVES], ids=lambda path: " ".join(path) or "synccash")
def test_help_names_values_without_python_types(runner, path):
    """Every option and argument shows a readable name (`--port PORT`), not `<int range>`."""
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert PYTHON_TYPE.findall(result.stdout) == []


def test_help_shows_an_option_value_by_its_name(runner):
    """The value of `--ttl` is named TTL and that of `--scope` SCOPE."""
    result = runner.invoke(app, ["token", "mint", "--help"])
    assert "--ttl TTL" in result.stdout
    assert "--scope SCOPE" in result.stdout


def test_version_prints_the_installed_version(runner):
    """`synccash --version` prints the synccash-tools version and exits 0."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"synccash {version('synccash-tools')}"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is already listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "api"])
def test_busy_port_is_a_runtime_error_not_a_traceback(runner, env, busy_port, command):
    """A port in use is reported in one line with exit code 1."""
    result = runner.invoke(app, [command, "--port", str(busy_port)], env=env)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    assert "Traceback" not in result.output


def test_serve_with_a_bad_setting_exits_2(runner, env):
    """Settings are checked before anything starts."""
    result = runner.invoke(app, ["serve"], env={**env, "DATABASE_URL": "mysql://x"})
    assert result.exit_code == 2
    assert "DATABASE_URL must start with" in result.stderr


def test_migrate_upgrades_and_downgrades_a_sqlite_database(runner, env, tmp_path):
    """`migrate` creates the schema; `migrate --downgrade base` removes it."""
    path = tmp_path / "cli.sqlite3"
    db_env = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{path}"}

    def tables() -> set[str]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}

    up = runner.invoke(app, ["migrate"], env=db_env)
    assert up.exit_code == 0, up.output
    assert "migrated to head" in up.stdout
    assert {"payments", "payment_events"} <= tables()
    down = runner.invoke(app, ["migrate", "--downgrade", "base"], env=db_env)
    assert down.exit_code == 0, down.output
    assert "payments" not in tables()


def test_migrate_unreachable_database_is_exit_1(runner, env):
    """A database that refuses connections is a runtime failure with the reason."""
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    result = runner.invoke(app, ["migrate"], env={**env, "DATABASE_URL": url})
    assert result.exit_code == 1
    assert "migration failed on 127.0.0.1:1/nowhere" in result.stderr


def test_sandbox_unknown_provider_is_exit_2(runner, env):
    """Only mtn, airteltigo, telecel and all are sandboxes."""
    result = runner.invoke(app, ["sandbox", "run", "--provider", "orange"], env=env)
    assert result.exit_code == 2
    assert "--provider must be one of mtn, airteltigo, telecel, all" in result.stderr


def test_bench_lists_modules_and_rejects_unknown_ones(runner, env):
    """`bench --list` shows the shipped benchmarks; an unknown name exits 2."""
    listed = runner.invoke(app, ["bench", "--list"], env=env)
    assert "core" in listed.stdout.split()
    result = runner.invoke(app, ["bench", "warp-speed"], env=env)
    assert result.exit_code == 2
    assert "unknown benchmark 'warp-speed'" in result.stderr


def test_serve_with_an_unreachable_database_exits_1(runner, env):
    """A configured PostgreSQL that refuses connections stops serve with the reason."""
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    result = runner.invoke(app, ["serve", "--port", "0"], env={**env, "DATABASE_URL": url})
    assert result.exit_code == 1
    assert "unreachable" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["serve", "api", "worker"])
@pytest.mark.parametrize(
    "case",
    [
        ("JWT_SECRET_KEY", None, "JWT_SECRET_KEY is the published development default"),
        ("WEBHOOK_SECRET", None, "WEBHOOK_SECRET is the published development default"),
        ("API_KEY_SECRET", None, "API_KEY_SECRET is the published development default"),
        ("JWT_SECRET_KEY", "x" * 31, "JWT_SECRET_KEY is 31 bytes; at least 32"),
    ],
)
def test_server_commands_refuse_weak_secrets_outside_embedded(runner, env, command, case):
    """On PostgreSQL a default or short secret stops serve/api/worker: one line, exit 2."""
    variable, value, says = case
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"  # never reached
    result = runner.invoke(
        app,
        [command, "--port", "0"] if command != "worker" else [command],
        env={**env, "DATABASE_URL": url, variable: value},
    )
    assert (result.exit_code, len(result.stderr.strip().splitlines())) == (2, 1)
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_server_command_reads_a_secret_file(runner, env, tmp_path):
    """JWT_SECRET_KEY_FILE replaces JWT_SECRET_KEY; a short file value is refused by name."""
    path = tmp_path / "jwt"
    path.write_text("too-short\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["worker"],
        env={
            **env,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "JWT_SECRET_KEY": None,
            "JWT_SECRET_KEY_FILE": str(path),
        },
    )
    assert result.exit_code == 2
    assert "JWT_SECRET_KEY is 9 bytes" in result.stderr


@pytest.mark.parametrize("command", [["api", "--port", "0"], ["worker"]])
def test_api_and_worker_with_an_unreachable_database_say_so_in_one_line(runner, env, command):
    """`api` and `worker` on a PostgreSQL that refuses connections: one line, exit 1."""
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    result = runner.invoke(app, command, env={**env, "DATABASE_URL": url})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database at postgresql+asyncpg://postgres@127.0.0.1:1/")
    assert "unreachable" in lines[0]
    assert "Traceback" not in result.output
