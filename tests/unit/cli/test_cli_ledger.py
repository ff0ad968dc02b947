"""`synccash ledger`: top-ups, balances, statements and verify on a SQLite database."""

from __future__ import annotations

import json

import pytest

from synccash.cli.main import app


@pytest.fixture
def db_env(runner, env, tmp_path):
    """A migrated SQLite database in the environment."""
    db_env = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'books.sqlite3'}"}
    assert runner.invoke(app, ["migrate"], env=db_env).exit_code == 0
    return db_env


def test_topup_posts_once_per_key_and_shows_in_the_balance(runner, db_env):
    """The same --key twice is one top-up."""
    for _ in range(2):
        result = runner.invoke(
            app,
            ["ledger", "topup", "--provider", "mtn", "--amount", "250", "--key", "k1"],
            env=db_env,
        )
        assert result.exit_code == 0, result.output
    balance = runner.invoke(app, ["ledger", "balance", "--provider", "mtn", "--json"], env=db_env)
    assert json.loads(balance.stdout)["provider:mtn:float"] == "250.00"


def test_verify_passes_on_consistent_books(runner, db_env):
    """After a top-up the books verify; the summary line says so."""
    runner.invoke(app, ["ledger", "topup", "-p", "telecel", "-a", "10", "--key", "k"], env=db_env)
    result = runner.invoke(app, ["ledger", "verify"], env=db_env)
    assert result.exit_code == 0, result.output
    assert "ledger payments=0 ledger_differences=0" in result.stdout


def test_a_bad_amount_is_one_line_and_exit_2(runner, db_env):
    """A validation error is not a traceback."""
    result = runner.invoke(
        app, ["ledger", "topup", "-p", "mtn", "-a", "1.001", "--key", "k"], env=db_env
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_balance_needs_exactly_one_selector(runner, db_env):
    """Neither --merchant, --provider nor --all: a usage error."""
    assert runner.invoke(app, ["ledger", "balance"], env=db_env).exit_code == 2


def test_statement_csv_of_an_empty_merchant_is_its_header(runner, db_env):
    """No postings: the CSV is the header line alone."""
    result = runner.invoke(app, ["ledger", "statement", "-m", "shop", "--csv"], env=db_env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "position,at,kind,reference,payment_id,account,amount\n"
