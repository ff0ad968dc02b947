"""GET /_admin/statement over real HTTP: the day's report as each provider writes it."""

from __future__ import annotations

import pytest
from sandbox_drivers import Driver

from synccash.core.statements import LineStatus, parse_statement

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("provider", "msisdn"),
    [("mtn", "233245550001"), ("airteltigo", "233265550001"), ("telecel", "233205550001")],
)
async def test_statement_lists_the_collection(http, combined, provider, msisdn):
    """A collection made through the wire shows up once, successful, in pesewas."""
    app, url = combined
    driver = Driver(provider, http, url)
    await driver.collect(msisdn, amount=5)
    app[provider].settle_due()
    day = app[provider].now().date().isoformat()
    response = await http.get(f"{url}/{provider}/_admin/statement", params={"date": day})
    lines = list(parse_statement(provider, response.text.splitlines()))
    assert response.headers["content-type"].startswith("text/csv")
    assert [(ln.status, ln.amount_minor) for ln in lines] == [(LineStatus.SUCCESS, 500)]


async def test_statement_needs_a_date(http, combined):
    """A missing or malformed date is a 400, not a 500."""
    _, url = combined
    response = await http.get(f"{url}/mtn/_admin/statement", params={"date": "08/12/2026"})
    assert response.status_code == 400
