"""`route simulate --chart` without the optional matplotlib extra: one line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from synccash.cli.simulate.chart import MISSING_MATPLOTLIB

SCENARIO = Path(__file__).parents[3] / "tools" / "scenarios" / "mtn-outage-midday.yaml"

#: Runs the CLI in a fresh interpreter where `import matplotlib` fails, as in a production install.
_WITHOUT_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None; "
    "from synccash.cli.main import app; app(prog_name='synccash')"
)


def test_chart_without_matplotlib_is_one_line_and_exit_1(tmp_path):
    """The missing extra is named in one line on stderr (no traceback) and no file is written."""
    chart = tmp_path / "out.png"
    args = ["route", "simulate", str(SCENARIO), "--payments", "20", "--chart", str(chart)]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MATPLOTLIB, *args],
        capture_output=True,
        text=True,
        check=False,
        env={"JWT_SECRET_KEY": "cli-test-secret-0123456789abcdef-0123456789", "COLUMNS": "400"},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert [f"error: {MISSING_MATPLOTLIB}"] == done.stderr.strip().splitlines()
    assert not chart.exists()
