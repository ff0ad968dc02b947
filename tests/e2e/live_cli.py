"""Run `synccash …` against a live stack's database (the CLI as an operator would)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from synccash.cli.main import app


def cli(live: Any, *args: str) -> str:
    """Run `synccash …` on the stack's database; its stdout (the command must succeed)."""
    settings = live.settings
    env = {
        "DATABASE_URL": settings.database_url,
        "API_KEY_SECRET": settings.api_key_secret,
        "JWT_SECRET_KEY": settings.jwt_secret_key,
        "WEBHOOK_SECRET": settings.webhook_secret,
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def api_key(live: Any, merchant: str) -> str:
    """Register `merchant` and create an API key for it with the CLI; the key."""
    cli(live, "merchant", "create", merchant)
    return cli(live, "apikey", "create", "--merchant", merchant).strip().splitlines()[-1]
