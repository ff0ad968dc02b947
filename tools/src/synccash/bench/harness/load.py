"""Load and measurement: payments initiated through the API, followed until terminal.

The load generator runs in its own process (`python -m synccash.bench.harness load SPEC`)
so it never shares a core's time with the measuring process: keep-alive HTTP/1.1 on a
fixed number of connections, a unique Idempotency-Key per payment, closed loop at full
speed or open loop at a fixed rate. `run_batch` then waits with one query a tick until
every payment is terminal and reports throughput, latency and CPU per role.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any, Final

from attrs import frozen

from synccash.bench.harness.processes import children_cpu
from synccash.bench.harness.stack import MERCHANT, Stack
from synccash.bench.harness.stores import connect

INITIATE_PATH: Final = "/api/v1/payments/initiate"
TERMINAL: Final = ("CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED")
#: Payer prefixes, one per network, so every provider sees a third of the payments.
_PREFIXES: Final = ("024", "020", "027")
#: "merchant": every payment pays the merchant's own account (a collection, the common case);
#: "wallets": each pays a distinct payee wallet (no payee sees more than one payer).
PAYEE_MODE: Final = os.environ.get("BENCH_PAYEE", "merchant")


# --------------------------------------------------------------------------- load generator
def payer(n: int) -> str:
    """A distinct payer MSISDN per payment, networks in turn; never a sandbox test number."""
    return f"{_PREFIXES[n % 3]}{1_000_000 + n // 3 % 8_000_000}"


def _payee(n: int) -> dict[str, str]:
    if PAYEE_MODE == "wallets":
        return {"msisdn": f"055{1_000_000 + n % 8_000_000}"}
    return {"merchant_account": MERCHANT}


def _body(n: int) -> bytes:
    return json.dumps(
        {
            "amount": "12.50",
            "currency": "GHS",
            "payer": {"msisdn": payer(n)},
            "payee": _payee(n),
            "description": "bench lifecycle",
            "reference": f"order-{n}",
        },
        separators=(",", ":"),
    ).encode()


def _request(port: int, token: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST {INITIATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes]:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def initiate(  # noqa: PLR0917  (the load spec, positionally)
    port: int, token: str, first: int, count: int, connections: int, rate: float | None
) -> dict[str, Any]:
    """Send `count` initiates on `connections` keep-alive connections (paced if `rate`)."""
    run = uuid.uuid4().hex[:8]
    sent: list[tuple[str, float, int]] = []  # payment id, wall-clock send time, status
    errors: dict[str, int] = {}
    numbers = iter(range(first, first + count))
    start = time.perf_counter()
    wall = time.time()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in numbers:
                if rate:  # open loop: request n is due at n / rate; wait for it
                    due = start + (n - first) / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                at = wall + (time.perf_counter() - start)
                payload = _request(port, token, f"{run}-{n}", _body(n))
                status, body = await _exchange(reader, writer, payload)
                if status == 202:
                    sent.append((json.loads(body)["id"], at, status))
                else:
                    key = f"{status}:{body[:120].decode(errors='replace')}"
                    errors[key] = errors.get(key, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return {"accepted": sent, "errors": errors, "seconds": elapsed, "first_at": wall}


def run_load(
    port: int,
    token: str,
    *,
    first: int,
    count: int,
    connections: int,
    rate: float | None = None,
) -> dict[str, Any]:
    """Run the load generator in its own process (it must not share a core with this one)."""
    spec = json.dumps([port, token, first, count, connections, rate])
    out = subprocess.run(
        [sys.executable, "-m", "synccash.bench.harness", "load", spec],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"load generator failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- measuring
@frozen
class Outcome:
    """Where the accepted payments ended."""

    states: dict[str, int]
    last_terminal_at: float  # unix seconds
    confirmed_at: dict[str, float]  # payment id -> unix seconds of payment.confirmed
    timed_out: bool


async def wait_terminal(database_url: str, ids: Sequence[str], within_s: float = 120.0) -> Outcome:
    """Poll PostgreSQL (one query a tick) until every payment is terminal, then measure `ids`."""
    conn = await connect(database_url)
    try:
        deadline = time.monotonic() + within_s
        timed_out = False
        while True:
            # every payment in the bench database is the bench's and earlier batches are
            # terminal: one cheap scan, not a lookup of each id, keeps the poll off the CPU
            still_open = await conn.fetchval(
                "SELECT count(*) FROM payments WHERE NOT (state = ANY($1::text[]))",
                list(TERMINAL),
            )
            if still_open == 0:
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            await asyncio.sleep(0.1)
        states = {
            r["state"]: r["n"]
            for r in await conn.fetch(
                "SELECT state, count(*) AS n FROM payments WHERE id = ANY($1::text[]) "
                "GROUP BY state",
                list(ids),
            )
        }
        events = await conn.fetch(
            "SELECT p.id, p.updated_at, e.at AS confirmed FROM payments p "
            "LEFT JOIN payment_events e ON e.payment_id = p.id AND e.type = 'payment.confirmed' "
            "WHERE p.id = ANY($1::text[]) AND p.state = ANY($2::text[])",
            list(ids),
            list(TERMINAL),
        )
    finally:
        await conn.close()
    last = max(
        ((r["confirmed"] or r["updated_at"]).timestamp() for r in events), default=time.time()
    )
    confirmed = {r["id"]: r["confirmed"].timestamp() for r in events if r["confirmed"]}
    return Outcome(states, last, confirmed, timed_out)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-quantile (nearest rank) of `values`; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


@frozen
class RunResult:
    """One batch of payments through the stack."""

    accepted: int
    errors: dict[str, int]
    lifecycle_per_s: float
    initiate_per_s: float
    seconds: float
    states: dict[str, int]
    latency_ms: dict[str, float]
    timed_out: bool
    ids: tuple[str, ...]
    outcome: Outcome
    cpu_ms_per_lifecycle: dict[str, float]


def run_batch(
    stack: Stack,
    *,
    first: int,
    count: int,
    connections: int,
    rate: float | None = None,
    timeout: float = 120.0,
) -> RunResult:
    """Initiate `count` payments, wait until all are terminal, measure (CPU per role too)."""
    cpu_before = stack.cpu_snapshot()
    load_cpu = children_cpu()
    load = run_load(
        stack.api_port, stack.token(), first=first, count=count, connections=connections, rate=rate
    )
    accepted = [(str(a[0]), float(a[1])) for a in load["accepted"]]
    ids = tuple(a[0] for a in accepted)
    outcome = asyncio.run(wait_terminal(stack.database_url, ids, within_s=timeout))
    cpu_after = stack.cpu_snapshot()
    cpu = {role: cpu_after[role] - cpu_before[role] for role in cpu_before}
    cpu["load_generator"] = children_cpu() - load_cpu
    per = max(len(ids), 1)
    cpu_ms = {role: round(value / per * 1000, 3) for role, value in cpu.items()}
    cpu_ms["total"] = round(sum(cpu.values()) / per * 1000, 3)
    seconds = max(outcome.last_terminal_at - float(load["first_at"]), 1e-9)
    latencies = [
        (outcome.confirmed_at[p] - at) * 1000 for p, at in accepted if p in outcome.confirmed_at
    ]
    return RunResult(
        accepted=len(ids),
        errors=load["errors"],
        lifecycle_per_s=len(ids) / seconds,
        initiate_per_s=len(ids) / max(float(load["seconds"]), 1e-9),
        seconds=seconds,
        states=outcome.states,
        latency_ms={
            "p50": round(percentile(latencies, 0.50), 1),
            "p90": round(percentile(latencies, 0.90), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies, default=0.0), 1),
        },
        timed_out=outcome.timed_out,
        ids=ids,
        outcome=outcome,
        cpu_ms_per_lifecycle=cpu_ms,
    )
