"""Fixtures for provider client unit tests."""

from __future__ import annotations

import pytest
from provider_fakes import FakeClock, FakeProvider


@pytest.fixture
def fake() -> FakeProvider:
    """A fresh scripted provider."""
    return FakeProvider()


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved monotonic clock."""
    return FakeClock()
