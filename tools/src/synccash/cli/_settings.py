"""Settings for commands: parsed once from the environment (errors map to exit code 2)."""

from __future__ import annotations

from collections.abc import Mapping

from synccash.adapters.settings import Settings


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse settings from the process environment (or `env`); SettingsError on a bad value."""
    return Settings.from_env(env)
