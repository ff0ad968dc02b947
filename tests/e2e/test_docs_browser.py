"""The API reference pages render in a real browser with no network beyond this machine.

Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) driven by Playwright;
every request the pages make to another host is refused and recorded, so a CDN asset would
both fail to load and fail the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from served_api import served
from synccash.adapters.bootstrap import wire
from synccash.adapters.settings import Settings
from synccash.api import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """The API over the in-memory container, served by uvicorn on a loopback port."""
    settings = Settings.from_env({"JWT_SECRET_KEY": "x" * 40})
    with served(create_app(wire(settings))) as url:
        yield url


def _open(url: str, name: str, selector: str) -> tuple[list[str], str]:
    """Load `url`, wait for `selector`, screenshot it; (refused outside requests, page text)."""
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    refused: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_local)
            page.goto(url, wait_until="load")
            page.wait_for_selector(selector, timeout=30_000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
            text = page.inner_text("body")
        finally:
            browser.close()
    return refused, text


def test_swagger_ui_lists_the_operations_offline(api_url: str) -> None:
    """/api/docs renders Swagger UI from local assets and shows the payment operations."""
    refused, text = _open(f"{api_url}/api/docs", "swagger-ui", ".opblock")
    assert not refused, refused
    assert "/api/v1/payments/initiate" in text
    assert "SyncCash merchant API" in text


def test_redoc_lists_the_operations_offline(api_url: str) -> None:
    """/api/redoc renders ReDoc from local assets and lists the payment operations."""
    refused, text = _open(f"{api_url}/api/redoc", "redoc", "[data-section-id]")
    assert not refused, refused
    assert "/api/v1/payments/initiate" in text
    assert "SyncCash merchant API" in text
