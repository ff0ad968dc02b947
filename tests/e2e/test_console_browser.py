"""The ops console in a real browser: login with the ops scope, search, a timeline, providers.

Debian's Chromium driven by Playwright (as the API reference test); screenshots of each page
land in var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from playwright.sync_api import Page, expect, sync_playwright

from served_api import served
from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.settings import Settings
from synccash.api import create_app, mint_token

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
MERCHANT = "shop-console"
OPERATOR = "ops-team"

pytestmark = pytest.mark.integration


async def _seed(container: Container, settings: Settings) -> list[str]:
    """Two payments of MERCHANT, taken through the worker side as far as they go now."""
    token = mint_token(settings, MERCHANT, ["payments:write", "payments:read"])
    ids: list[str] = []
    async with AsyncTestClient(app=create_app(container)) as client:
        for n, amount in enumerate(("12.50", "40.00")):
            response = await client.post(
                "/api/v1/payments/initiate",
                json={
                    "amount": amount,
                    "payer": {"msisdn": "0241234567"},
                    "payee": {"merchant_account": MERCHANT},
                    "reference": f"order-{n}",
                },
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"k-{n}"},
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        for _ in range(10):
            deliveries = await container.queue.consume("console-test", count=50)
            for delivery in deliveries:
                await container.lifecycle.handle(delivery.task)
                await container.queue.ack(delivery)
    return ids


@pytest.fixture(scope="module")
def console() -> Iterator[tuple[str, Settings, list[str]]]:
    """The API with two processed payments, served on loopback."""
    settings = Settings.from_env({"JWT_SECRET_KEY": "c" * 40})
    container = wire(settings)
    ids = asyncio.run(_seed(container, settings))
    with served(create_app(container)) as url:
        yield url, settings, ids


def _browser_page(playwright: object) -> Page:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    browser = playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
    )
    page: Page = browser.new_page(viewport={"width": 1360, "height": 1000})
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def test_console_requires_the_ops_scope_then_shows_payments_timeline_and_providers(
    console: tuple[str, Settings, list[str]],
) -> None:
    """No cookie -> login; a merchant token is refused; an ops token sees search, timeline, health."""
    url, settings, ids = console
    merchant_token = mint_token(settings, MERCHANT, ["payments:read"])
    ops_token = mint_token(settings, OPERATOR, ["ops"])
    with sync_playwright() as playwright:
        page = _browser_page(playwright)
        page.goto(f"{url}/console")
        expect(page).to_have_url(f"{url}/console/login")
        page.fill("#credential", merchant_token)
        page.click("#sign-in")
        expect(page.locator("#login-error")).to_contain_text("ops")
        _shot(page, "login-refused")

        page.fill("#credential", ops_token)
        page.click("#sign-in")
        expect(page.locator("#operator")).to_have_text(OPERATOR)
        page.fill("input[name=merchant]", MERCHANT)
        page.click("#search")
        rows = page.locator("#payments tbody tr")
        expect(rows).to_have_count(2)
        for payment_id in ids:
            expect(page.locator("#payments")).to_contain_text(payment_id)
        _shot(page, "payments")

        page.click(f"a:has-text('{ids[0]}')")
        expect(page.locator("h1")).to_contain_text(ids[0])
        expect(page.locator("#timeline tbody tr").first).to_contain_text("payment.initiated")
        expect(page.locator("#attempts")).to_be_visible()
        expect(page.locator("#payment-state")).not_to_be_empty()
        _shot(page, "timeline")

        page.click("text=Providers")
        expect(page.locator("#providers tbody tr")).to_have_count(3)
        for provider in ("mtn", "airteltigo", "telecel"):
            expect(page.locator("#providers")).to_contain_text(provider)
        _shot(page, "providers")

        page.click("text=Sign out")
        expect(page).to_have_url(f"{url}/console/login")
        page.goto(f"{url}/console")
        expect(page).to_have_url(f"{url}/console/login")
