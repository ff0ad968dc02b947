"""`synccash token mint`."""

from __future__ import annotations

import jwt

from synccash.cli.main import app


def test_mint_prints_a_token_alone_on_the_last_line_that_decodes_with_the_secret(runner, env):
    """The last stdout line is a JWT signed with JWT_SECRET_KEY for the merchant and scopes."""
    result = runner.invoke(
        app,
        ["token", "mint", "--merchant", "shop-42", "--scope", "payments:read", "--ttl", "600"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, env["JWT_SECRET_KEY"], algorithms=["HS256"], issuer="synccash")
    assert claims["merchant_id"] == "shop-42"
    assert claims["scope"] == "payments:read"
    assert claims["exp"] - claims["iat"] == 600


def test_mint_defaults_to_every_scope(runner, env):
    """Without --scope the token carries all three scopes."""
    result = runner.invoke(app, ["token", "mint", "--merchant", "m"], env=env)
    token = result.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, env["JWT_SECRET_KEY"], algorithms=["HS256"], issuer="synccash")
    assert set(claims["scope"].split()) == {"payments:write", "payments:read", "reports:read"}


def test_unknown_scope_is_a_usage_error(runner, env):
    """An unknown scope exits 2 with a message naming the valid ones, and prints no token."""
    result = runner.invoke(
        app, ["token", "mint", "--merchant", "m", "--scope", "payments:delete"], env=env
    )
    assert result.exit_code == 2
    assert "unknown scope 'payments:delete'" in result.stderr
    assert result.stdout == ""


def test_bad_setting_is_a_usage_error_without_traceback(runner, env):
    """A broken environment variable is reported as one line, exit 2."""
    result = runner.invoke(
        app, ["token", "mint", "--merchant", "m"], env={**env, "LOG_FORMAT": "xml"}
    )
    assert result.exit_code == 2
    assert "LOG_FORMAT must be 'json' or 'console'" in result.stderr
    assert "Traceback" not in result.output


def test_missing_merchant_is_a_usage_error(runner, env):
    """--merchant is required (click's own usage error, exit 2)."""
    result = runner.invoke(app, ["token", "mint"], env=env)
    assert result.exit_code == 2
    assert "--merchant" in result.output
