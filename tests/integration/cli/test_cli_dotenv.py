"""`synccash serve` reads `./.env` like every other command (the environment still wins)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SYNCCASH = Path(sys.executable).with_name("synccash")


def _serve(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SYNCCASH), "serve", "--port", "0"],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_takes_its_settings_from_dotenv(tmp_path):
    """A bad LOG_FORMAT in ./.env stops serve with the setting's one-line error (exit 2)."""
    (tmp_path / ".env").write_text("LOG_FORMAT=xml\n", encoding="utf-8")
    done = _serve(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "LOG_FORMAT must be 'json' or 'console', got 'xml'" in done.stderr


def test_the_environment_wins_over_dotenv(tmp_path):
    """The process environment overrides ./.env (here with another bad value, to stop early)."""
    (tmp_path / ".env").write_text("LOG_FORMAT=xml\n", encoding="utf-8")
    done = _serve(tmp_path, LOG_FORMAT="yaml")
    assert done.returncode == 2, done.stderr
    assert "got 'yaml'" in done.stderr
