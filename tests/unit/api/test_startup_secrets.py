"""The API and worker entry points refuse weak secrets outside the embedded default (16.3)."""

from __future__ import annotations

import anyio
import pytest

from synccash.adapters.settings import Settings, SettingsError
from synccash.api.app import create_app_from_settings
from synccash.worker.app import serve

PRODUCTION = {
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "JWT_SECRET_KEY": "j" * 40,
    "API_KEY_SECRET": "k" * 40,
}


def test_api_factory_refuses_the_default_webhook_secret():
    """`create_app_from_settings` (what uvicorn calls) checks before building anything."""
    with pytest.raises(SettingsError) as caught:
        create_app_from_settings(Settings.from_env(PRODUCTION))
    assert caught.value.message.startswith("WEBHOOK_SECRET is the published development default")


def test_worker_refuses_the_default_webhook_secret():
    """The worker's `serve` checks before it connects to anything."""
    with pytest.raises(SettingsError) as caught:
        anyio.run(lambda: serve(1, settings=Settings.from_env(PRODUCTION)))
    assert caught.value.message.startswith("WEBHOOK_SECRET is the published development default")
