"""Shared helpers for CLI tests: a runner and the Typer app as a click command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

#: A key long enough for HS256 without warnings; passed through the environment.
SECRET = "cli-test-secret-0123456789abcdef-0123456789"


@pytest.fixture
def runner() -> CliRunner:
    """A Typer CliRunner (stdout and stderr kept apart)."""
    return CliRunner()


@pytest.fixture
def env() -> dict[str, str]:
    """Environment for commands under test: known secrets (long enough for any mode)."""
    return {
        "JWT_SECRET_KEY": SECRET,
        "WEBHOOK_SECRET": SECRET + "-webhooks",
        "API_KEY_SECRET": SECRET + "-api-keys",
        "JWT_ISSUER": "synccash",
    }
