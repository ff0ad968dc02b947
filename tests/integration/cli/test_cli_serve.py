"""`synccash serve` as a real process: health, a payment to CONFIRMED, clean SIGINT shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from synccash.bench.harness.processes import free_port

pytestmark = pytest.mark.integration

SYNCCASH = Path(sys.executable).with_name("synccash")


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _health(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_runs_a_payment_to_confirmed_and_stops_cleanly_on_sigint(tmp_path):
    """Start on a free port, pay with the printed token, see CONFIRMED, SIGINT -> exit 0."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SANDBOX_MODE")
    }
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}"
    process = subprocess.Popen(
        [str(SYNCCASH), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: process.poll() is not None or _health(base), 60, "/api/v1/health")
        assert process.poll() is None, process.stderr.read()
        token_line = _wait_for(
            lambda: next((x for x in lines if x.startswith("export SYNCCASH_TOKEN=")), None),
            10,
            "the printed token",
        )
        token = token_line.strip().split("=", 1)[1]
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        body = {
            "amount": "12.50",
            "payer": {"msisdn": "0241234567"},
            "payee": {"merchant_account": "demo-merchant"},
            "reference": "serve-test",
        }
        created = httpx.post(
            f"{base}/api/v1/payments/initiate", json=body, headers=headers, timeout=10
        )
        assert created.status_code == 202, created.text
        payment_id = created.json()["id"]

        def state() -> str | None:
            answer = httpx.get(
                f"{base}/api/v1/payments/{payment_id}/status", headers=headers, timeout=5
            ).json()["state"]
            return answer if answer in ("CONFIRMED", "FAILED", "EXPIRED") else None

        assert _wait_for(state, 60, "a final state") == "CONFIRMED"
        assert any(f"{base}/api/docs" in line for line in lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        stderr = process.stderr.read()
    assert code == 0, stderr
    assert "Traceback" not in stderr
