"""`synccash payout …` against the real API over real HTTP (in-memory adapters)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from typer.testing import CliRunner

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.settings import Settings
from synccash.api.app import create_app
from synccash.api.auth import mint_token
from synccash.cli.main import app
from synccash.core.ledger import PostingKind, collection_wallet, entry, merchant_available
from synccash.core.providers import ProviderId

pytestmark = pytest.mark.integration

SECRET = "cli-payout-test-secret-0123456789abcdef-0123"
ENV = {"JWT_SECRET_KEY": SECRET}
MERCHANT = "shop-7"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Container]]:
    """The real Litestar app on uvicorn (127.0.0.1, a free port) in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    container = wire(Settings.from_env(ENV))
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", container
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def cli(served):
    """Run `synccash …` against the served API as merchant shop-7."""
    api_url, _ = served
    token = mint_token(Settings.from_env(ENV), MERCHANT)
    runner = CliRunner()

    def run(*args: str):
        env = {**ENV, "SYNCCASH_TOKEN": token}
        return runner.invoke(app, [*args, "--api-url", api_url], env=env)

    return run


def test_create_get_list_and_cancel_a_payout(cli, served):
    """Funded: create answers the payout; get, list and cancel find it; cancel releases it."""
    _, container = served
    lines = [(collection_wallet(ProviderId.MTN), 5_000), (merchant_available(MERCHANT), -5_000)]
    seed = entry("seed-cli", PostingKind.COLLECT, lines, currency="GHS")
    asyncio.run(container.ledger.post([seed], container.clock.now()))

    created = cli(
        "payout", "create", "--amount", "20.00", "--payee", "0551234567",
        "--reference", "po-cli-1", "--idempotency-key", "po-cli-1", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    payout = json.loads(created.stdout)
    shown = cli("payout", "get", payout["id"])
    listed = json.loads(cli("payout", "list", "--reference", "po-cli-1", "--json").stdout)
    cancelled = json.loads(cli("payout", "cancel", payout["id"], "--json").stdout)

    assert (payout["kind"], payout["amount"]) == ("payout", "20.00")
    assert shown.exit_code == 0
    assert payout["id"] in shown.stdout
    assert [payout["id"]] == [p["id"] for p in listed["items"]]
    assert cancelled["state"] == "CANCELLED"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--amount", "20.00", "--payee", "0311234567"), "invalid_msisdn"),
        (("--amount", "20.005", "--payee", "0551234567"), "invalid_amount"),
        (
            ("--amount", "20.00", "--payee", "0551234567", "--provider", "paypal"),
            "unknown_provider",
        ),
        (("--amount", "90000", "--payee", "0551234567"), "amount_out_of_range"),
        (("--amount", "2000", "--payee", "0551234567"), "insufficient_balance"),
    ],
)
def test_bad_payouts_are_one_line_and_exit_2(cli, args, code):
    """The API's 422 is one line on stderr naming its code, exit 2, no traceback."""
    result = cli("payout", "create", *args)

    assert result.exit_code == 2, result.output
    assert code in result.stderr
    assert "Traceback" not in result.output
