"""The engine switches: today's engines by default, each one off by a setting, typos refused."""

from __future__ import annotations

import pytest

from synccash.adapters.settings import Settings, SettingsError


def test_every_engine_is_on_by_default():
    """With nothing set, the fast HTTP client, the pipelined Redis and group commit run."""
    settings = Settings.from_env({})
    assert (settings.engine_provider_http, settings.engine_redis, settings.engine_group_commit) == (
        "fast",
        "pipelined",
        True,
    )


def test_each_engine_switches_off_to_the_plain_library():
    """httpx, redis-py, no group commit (case and spaces do not matter)."""
    settings = Settings.from_env(
        {
            "ENGINE_PROVIDER_HTTP": "httpx",
            "ENGINE_REDIS": " Redis-Py ",
            "ENGINE_GROUP_COMMIT": "OFF",
        }
    )
    assert (settings.engine_provider_http, settings.engine_redis, settings.engine_group_commit) == (
        "httpx",
        "redis-py",
        False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("ENGINE_PROVIDER_HTTP", "h2"), ("ENGINE_REDIS", "lean"), ("ENGINE_GROUP_COMMIT", "yes")],
)
def test_an_unknown_engine_value_is_refused_with_the_choices(name: str, value: str):
    """A typo is a settings error naming the variable and what it accepts."""
    with pytest.raises(SettingsError, match=f"{name} must be"):
        Settings.from_env({name: value})
