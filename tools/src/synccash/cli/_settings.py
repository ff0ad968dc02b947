"""Settings for commands: parsed once from the environment (errors map to exit code 2)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from jwt.warnings import InsecureKeyLengthWarning

from synccash.adapters.settings import VARIABLES, Settings
from synccash.cli._console import err_console


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse settings from the process environment (or `env`); SettingsError on a bad value."""
    return Settings.from_env(env)


def load_server_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a server process (serve, api, worker): parsed, and secrets checked.

    Outside the embedded default a published default or short secret is refused
    (SettingsError: one line naming the variable, exit code 2).
    """
    settings = load_settings(env)
    settings.require_safe_secrets()
    return settings


def uses_dev_secret(settings: Settings) -> bool:
    """True while JWT_SECRET_KEY is the published development default."""
    return settings.jwt_secret_key == VARIABLES["JWT_SECRET_KEY"][0]


def note_dev_secret(settings: Settings) -> None:
    """Say once, in our words, that the dev key is in use (instead of PyJWT's key-length warning).

    Only the known development key is hushed: a short key chosen by an operator still
    gets PyJWT's warning.
    """
    if uses_dev_secret(settings):
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        err_console.print(
            "note: JWT_SECRET_KEY is the development default; set your own for anything real"
        )
