"""`synccash blocklist add|list|remove` on a SQLite database, every change audited (16.8)."""

from __future__ import annotations

import sqlite3

from synccash.cli.main import app


def _audit(path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT action, subject, actor FROM risk_audit ORDER BY at, id")
        return [tuple(r) for r in rows.fetchall()]


def test_add_list_remove_round_trip_with_audit(runner, env, tmp_path):
    """Add normalises the MSISDN, a repeat is a no-op, remove unblocks; two audit rows."""
    path = tmp_path / "risk.sqlite3"
    db = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    added = runner.invoke(
        app, ["blocklist", "add", "+233 24 123 4567", "--reason", "mule", "--actor", "ana"], env=db
    )
    repeat = runner.invoke(app, ["blocklist", "add", "0241234567", "--reason", "x"], env=db)
    listed = runner.invoke(app, ["blocklist", "list"], env=db)
    assert (
        added.exit_code,
        added.stdout,
        repeat.stdout,
    ) == (0, "233241234567: blocked\n", "233241234567: already blocked\n")
    assert "233241234567" in listed.stdout
    assert "mule" in listed.stdout
    removed = runner.invoke(app, ["blocklist", "remove", "0241234567", "--actor", "ana"], env=db)
    again = runner.invoke(app, ["blocklist", "remove", "0241234567"], env=db)
    assert (removed.exit_code, again.exit_code) == (0, 1)
    assert "233241234567 is not on the blocklist" in again.stderr
    assert (_audit(path)) == [
        ("blocklist.add", "233241234567", "ana"),
        ("blocklist.remove", "233241234567", "ana"),
    ]


def test_bad_entries_are_one_line_exit_2(runner, env, tmp_path):
    """A non-MSISDN or an empty payee key: one line, exit 2, nothing written."""
    db = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'risk.sqlite3'}"}
    for entry in ("not-a-number", "acct:"):
        result = runner.invoke(app, ["blocklist", "add", entry, "--reason", "x"], env=db)
        assert (result.exit_code, len(result.stderr.strip().splitlines())) == (2, 1)
        assert "Traceback" not in result.output
