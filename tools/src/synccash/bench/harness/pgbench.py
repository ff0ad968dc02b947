"""pgbench: what PostgreSQL itself sustains on this machine for a given SQL script.

A benchmark's "limit" is pgbench replaying the same SQL as the code under test, with
prepared statements, so its ratio to pgbench says what the Python around the SQL costs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url


def run_pgbench(database_url: str, script: str, *, clients: int, seconds: float) -> float:
    """Transactions per second pgbench sustains running `script` (`-M prepared`, 2 threads)."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (apt-get install postgresql-client)")
    parsed = make_url(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(script)
        result = subprocess.run(
            [
                pgbench,
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(max(1, round(seconds))),
                "-f",
                str(path),
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port or 5432),
                "-U",
                parsed.username or "postgres",
                str(parsed.database),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": parsed.password or ""},
            check=False,
        )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))
