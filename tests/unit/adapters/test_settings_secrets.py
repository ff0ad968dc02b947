"""Secrets outside the embedded default, `*_FILE` variants and `./.env` (issues 16.3, 20.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synccash.adapters.settings import (
    SECRET_VARIABLES,
    VARIABLES,
    Settings,
    SettingsError,
    process_environment,
)
from synccash.core.money import Money

STRONG = "s" * 32
POSTGRES = {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/x"}
PRODUCTION_MODES = [
    pytest.param(POSTGRES, id="postgres"),
    pytest.param({"REDIS_URL": "redis://127.0.0.1:6379/4"}, id="redis"),
    pytest.param({"SANDBOX_MODE": "external"}, id="external"),
]


def _settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def test_embedded_default_keeps_the_development_secrets():
    """With nothing set, the published defaults are fine (the check passes)."""
    settings = _settings({})
    settings.require_safe_secrets()
    assert VARIABLES["JWT_SECRET_KEY"][0] == settings.jwt_secret_key


@pytest.mark.parametrize("mode", PRODUCTION_MODES)
@pytest.mark.parametrize("name", ["JWT_SECRET_KEY", "API_KEY_SECRET", "WEBHOOK_SECRET"])
def test_published_default_is_refused_outside_embedded(mode, name):
    """The documented default of either own secret stops the process, naming the variable."""
    env = {"JWT_SECRET_KEY": STRONG, "API_KEY_SECRET": STRONG, "WEBHOOK_SECRET": STRONG, **mode}
    del env[name]
    with pytest.raises(SettingsError) as caught:
        _settings(env).require_safe_secrets()
    assert caught.value.message.startswith(f"{name} is the published development default")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("name", ["JWT_SECRET_KEY", "API_KEY_SECRET", "WEBHOOK_SECRET"])
def test_a_31_byte_secret_is_refused_and_32_bytes_pass(name):
    """The length rule counts bytes (UTF-8): 31 is refused, 32 passes."""
    env = {**POSTGRES, "JWT_SECRET_KEY": STRONG, "API_KEY_SECRET": STRONG, "WEBHOOK_SECRET": STRONG}
    with pytest.raises(SettingsError) as caught:
        _settings({**env, name: "é" * 15 + "x"}).require_safe_secrets()  # 31 bytes
    assert caught.value.message.startswith(f"{name} is 31 bytes; at least 32")
    _settings({**env, name: "é" * 16}).require_safe_secrets()  # 32 bytes


def test_sandbox_credentials_are_refused_towards_a_real_provider():
    """A published sandbox credential sent over https is refused; over http (a sandbox) not."""
    env = {**POSTGRES, "JWT_SECRET_KEY": STRONG, "API_KEY_SECRET": STRONG, "WEBHOOK_SECRET": STRONG}
    _settings(env).require_safe_secrets()
    real = {**env, "MTN_BASE_URL": "https://proxy.momoapi.mtn.com"}
    with pytest.raises(SettingsError) as caught:
        _settings(real).require_safe_secrets()
    assert caught.value.message.startswith("MTN_COLLECTION_API_KEY is the published sandbox")
    issued = {
        name: f"issued-{name.lower()}" for name in SECRET_VARIABLES if name.startswith("MTN_")
    }
    _settings({**real, **issued}).require_safe_secrets()


@pytest.mark.parametrize("name", SECRET_VARIABLES)
def test_every_secret_has_a_file_variant_without_the_trailing_newline(name, tmp_path):
    """`NAME_FILE` is read; one trailing newline (LF or CRLF) is dropped, nothing else."""
    path = tmp_path / "secret"
    path.write_bytes(b"  from-a-file value \r\n")
    settings = _settings({f"{name}_FILE": str(path)})
    assert ("  from-a-file value ", name) == (settings.secrets()[name][0], name)


def test_file_variant_and_value_together_are_refused(tmp_path):
    """Both forms at once is ambiguous: refused, naming the variable."""
    path = tmp_path / "jwt"
    path.write_text(STRONG + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        _settings({"JWT_SECRET_KEY": STRONG, "JWT_SECRET_KEY_FILE": str(path)})
    assert caught.value.message == "set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE, not both"


def test_unreadable_secret_file_is_one_line_naming_the_variable(tmp_path):
    """A missing file is a settings error, not a traceback."""
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError) as caught:
        _settings({"WEBHOOK_SECRET_FILE": str(missing)})
    assert f"WEBHOOK_SECRET_FILE: cannot read '{missing}': No such file or directory" == (
        caught.value.message
    )


def test_file_secret_that_is_short_is_refused(tmp_path):
    """The checks apply to the value read from the file too."""
    path = tmp_path / "jwt"
    path.write_text("short\n", encoding="utf-8")
    settings = _settings(
        {
            **POSTGRES,
            "JWT_SECRET_KEY_FILE": str(path),
            "API_KEY_SECRET": STRONG,
            "WEBHOOK_SECRET": STRONG,
        }
    )
    with pytest.raises(SettingsError) as caught:
        settings.require_safe_secrets()
    assert caught.value.message.startswith("JWT_SECRET_KEY is 5 bytes")


def test_dotenv_in_the_working_directory_is_read(tmp_path, monkeypatch):
    """MAX_TRANSACTION_AMOUNT from ./.env is honoured when the environment does not set it."""
    (tmp_path / ".env").write_text(
        "# a comment\nexport MAX_TRANSACTION_AMOUNT=100.00\nLOG_LEVEL='debug'\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAX_TRANSACTION_AMOUNT", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    settings = Settings.from_env()
    assert (Money.parse("100.00"), "DEBUG") == (settings.max_amount, settings.log_level)


def test_process_environment_wins_over_dotenv_which_wins_over_defaults(tmp_path, monkeypatch):
    """Precedence: process environment > .env > defaults."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("MAX_TRANSACTION_AMOUNT=100.00\nMIN_TRANSACTION_AMOUNT=5.00\n", "utf-8")
    monkeypatch.setenv("MAX_TRANSACTION_AMOUNT", "300.00")
    monkeypatch.delenv("MIN_TRANSACTION_AMOUNT", raising=False)
    monkeypatch.delenv("RATE_LIMIT_BURST", raising=False)
    settings = Settings.from_env(process_environment(dotenv))
    assert (Money.parse("300.00"), Money.parse("5.00"), 400) == (
        settings.max_amount,
        settings.min_amount,
        settings.rate_limit_burst,
    )


def test_a_secret_file_in_the_environment_hides_the_dotenv_value(tmp_path, monkeypatch):
    """`JWT_SECRET_KEY_FILE` in the environment beats `JWT_SECRET_KEY` in .env (no conflict)."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("JWT_SECRET_KEY=from-dotenv-but-hidden\n", encoding="utf-8")
    secret = tmp_path / "jwt"
    secret.write_text(STRONG + "\n", encoding="utf-8")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", str(secret))
    assert Settings.from_env(process_environment(dotenv)).jwt_secret_key == STRONG


def test_no_dotenv_file_means_environment_and_defaults(tmp_path):
    """A missing .env is not an error."""
    assert process_environment(Path(tmp_path / "absent.env")) == process_environment(None)
