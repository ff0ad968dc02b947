"""`synccash pay …` and `report daily` against the real API over real HTTP (in-memory adapters)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from typer.testing import CliRunner

from synccash.adapters.bootstrap import wire
from synccash.adapters.settings import Settings
from synccash.api.app import create_app
from synccash.api.auth import mint_token
from synccash.cli.main import app

pytestmark = pytest.mark.integration

SECRET = "cli-pay-test-secret-0123456789abcdef-012345"
ENV = {"JWT_SECRET_KEY": SECRET}


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """The real Litestar app on uvicorn (127.0.0.1, a free port) in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings.from_env(ENV)
    server = uvicorn.Server(
        uvicorn.Config(create_app(wire(settings)), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def cli(api_url):
    """Run `synccash …` against the served API with a valid token for merchant shop-1."""
    token = mint_token(Settings.from_env(ENV), "shop-1")
    runner = CliRunner()

    def run(*args: str, token_value: str | None = token):
        env = {**ENV, "SYNCCASH_TOKEN": token_value or ""}
        return runner.invoke(app, [*args, "--api-url", api_url], env=env)

    return run


def _initiate(cli, reference: str) -> dict:
    result = cli(
        "pay", "initiate", "--amount", "12.50", "--payer", "0241234567",
        "--wallet", "mtn:0241234567=500", "--merchant-account", "shop-1",
        "--reference", reference, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_initiate_then_status_list_and_cancel(cli):
    """A payment made through the CLI is visible in status and list, and can be cancelled."""
    payment = _initiate(cli, "order-cli-1")
    assert payment["amount"] == "12.50"
    assert payment["state"] == "INITIATED"

    status = cli("pay", "status", payment["id"])
    assert status.exit_code == 0, status.output
    assert payment["id"] in status.stdout
    assert "INITIATED" in status.stdout

    listed = json.loads(cli("pay", "list", "--reference", "order-cli-1", "--json").stdout)
    assert [p["id"] for p in listed["items"]] == [payment["id"]]

    cancelled = json.loads(cli("pay", "cancel", payment["id"], "--json").stdout)
    assert cancelled["state"] == "CANCELLED"


def test_report_daily_counts_the_merchants_payments(cli):
    """The daily report comes back through the API as a table."""
    _initiate(cli, "order-cli-2")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    result = cli("report", "daily", "--date", today, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["merchant_id"] == "shop-1"
    assert report["total_count"] >= 1


def test_api_validation_problem_is_exit_2_with_its_code(cli):
    """An amount the API rejects (422 problem) is a usage error showing the problem code."""
    result = cli(
        "pay", "initiate", "--amount", "99999999", "--payer", "0241234567",
        "--merchant-account", "shop-1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "amount_out_of_range" in result.stderr


def test_bad_token_is_exit_1_and_unknown_payment_is_exit_1(cli):
    """401 and 404 are runtime failures with the API's message, not tracebacks."""
    bad = cli("pay", "list", token_value="not-a-jwt")
    assert bad.exit_code == 1
    assert "HTTP 401" in bad.stderr
    missing = cli("pay", "status", "00000000-0000-0000-0000-000000000000")
    assert missing.exit_code == 1
    assert "HTTP 404" in missing.stderr
    assert "Traceback" not in missing.output


def test_missing_token_is_a_usage_error(cli):
    """Without --token or SYNCCASH_TOKEN the command says how to get one."""
    result = cli("pay", "list", token_value="")
    assert result.exit_code == 2
    assert "synccash token mint" in result.stderr


def test_unreachable_api_is_exit_1(cli):
    """A refused connection is one line and exit 1."""
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["pay", "list", "--api-url", "http://127.0.0.1:9", "--token", "x"],
        env=ENV,
    )
    assert result.exit_code == 1
    assert "cannot reach the SyncCash API" in result.stderr


def test_payee_and_merchant_account_are_exclusive(cli):
    """Exactly one payee option is required."""
    result = cli("pay", "initiate", "--amount", "1", "--payer", "0241234567")
    assert result.exit_code == 2
    assert "exactly one of --payee or --merchant-account" in result.stderr
