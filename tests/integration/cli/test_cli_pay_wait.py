"""`synccash pay initiate --wait`: exit 0 when the payment is CONFIRMED, 1 when it FAILED.

The real API and the real worker over one in-memory container (uvicorn and the worker in
one event loop in a background thread); the fake provider declines one payer at submit.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import anyio
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.adapters.settings import Settings
from synccash.api.app import create_app
from synccash.api.auth import mint_token
from synccash.cli.main import app
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.worker import run
from synccash.worker.metrics import WorkerMetrics

pytestmark = pytest.mark.integration

SECRET = "cli-wait-test-secret-0123456789abcdef-01234"
ENV = {"JWT_SECRET_KEY": SECRET}
DECLINES = "0241112299"  # the payer rejects the prompt: no failover, the payment FAILED
APPROVES = "0241112288"


async def _serve(container: Container, sock: socket.socket, server: uvicorn.Server) -> None:
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        tg.start_soon(
            lambda: run(
                container,
                stop=stop,
                concurrency=2,
                metrics=WorkerMetrics(CollectorRegistry()),
                scheduler_interval_s=0.05,
                relay_idle_s=0.05,
                block_ms=20,
            )
        )
        while not server.should_exit:  # noqa: ASYNC110 - uvicorn's exit is a flag
            await anyio.sleep(0.05)
        stop.set()


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """API + worker on a free port until the module's tests are done."""
    gateway = FakeProviderGateway()
    declined = ProviderOutcome.failed(FailureReason.REJECTED_BY_PAYER, "REJECTED")
    gateway.script(DECLINES, Script(submit=(declined,)))
    gateway.script(APPROVES, Script(submit=(ProviderOutcome.succeeded("txn-1", "SUCCESSFUL"),)))
    container = wire(Settings.from_env(ENV), gateway=gateway)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_level="warning"))
    thread = threading.Thread(target=anyio.run, args=(_serve, container, sock, server))
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _initiate_and_wait(api_url: str, payer: str):
    env = {**ENV, "SYNCCASH_TOKEN": mint_token(Settings.from_env(ENV), "shop-1")}
    args = [
        "pay", "initiate", "--amount", "12.50", "--payer", payer,
        "--wallet", f"mtn:{payer}", "--merchant-account", "shop-1",
        "--wait", "--timeout", "20", "--json", "--api-url", api_url,
    ]  # fmt: skip
    return CliRunner().invoke(app, args, env=env)


def test_wait_exits_1_when_the_payment_failed(api_url):
    """The payer declined: the final state is printed and the exit code is 1."""
    result = _initiate_and_wait(api_url, DECLINES)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["state"] == "FAILED"
    assert "Traceback" not in result.output


def test_wait_exits_0_when_the_payment_is_confirmed(api_url):
    """The payer approved: CONFIRMED, exit code 0."""
    result = _initiate_and_wait(api_url, APPROVES)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "CONFIRMED"
