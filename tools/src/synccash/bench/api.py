"""bench-api: POST /api/v1/payments/initiate against the real app (uvicorn, PostgreSQL, Redis).

Starts the API with uvicorn in a subprocess on a fresh PostgreSQL database and
Redis db 14, then drives it from a second process with a small keep-alive HTTP/1.1
load generator on loopback (raw asyncio sockets: the generator must cost less CPU
than the server on a 2-core machine). Two phases:

- saturation: N connections as fast as they go -> requests/s;
- paced: a fixed open-loop rate (default 300 req/s) -> p50/p99 latency.

Every request has its own Idempotency-Key, so every one creates and commits a payment.
The same saturation measurement, same run, of a bare Litestar + asyncpg endpoint doing the
same inserts and XADD (`synccash.bench.bare_api`): the framework limit. Both servers run side
by side and saturation alternates between them in --slices short slices, so a burst of other
work on a shared box lands on both sides of the ratio.
The last line is `initiate_rps=<saturation> p50_ms=<paced p50> p99_ms=<paced p99>
rss_mb=<API RSS> bare_rps=<bare saturation> ratio=<initiate_rps / bare_rps>`.

    uv run python -m synccash.bench.api [--seconds 10] [--connections 16] [--rate 300] [--workers 1]
                                      [--slices 4]
    (--workers defaults to $BENCH_API_WORKERS, else 1)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

import httpx
from attrs import define, field
from sqlalchemy.engine import make_url

from synccash.adapters.settings import Settings
from synccash.adapters.sql import migrate
from synccash.api.auth import mint_token
from synccash.bench.harness.processes import cpu_seconds, family, free_port, rss_mb, stop
from synccash.bench.harness.stores import PG_BASE, admin_sql, flush_redis

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BENCH_DB = "synccash_bench_api"
SECRET = "bench-secret-key-long-enough-for-hs256-" + "z" * 24
PATH = "/api/v1/payments/initiate"
BODY = json.dumps(
    {
        "amount": "12.50",
        "currency": "GHS",
        "payer": {
            "msisdn": "0241234567",
            "wallets": [
                {"provider": "mtn", "msisdn": "0241234567", "balance": "500.00"},
                {"provider": "telecel", "msisdn": "0201234567"},
            ],
        },
        "payee": {"msisdn": "0551234567"},
        "description": "bench",
        "reference": "bench",
        "metadata": {},
    },
    separators=(",", ":"),
).encode()


# --------------------------------------------------------------------------- setup
async def _fresh_database() -> str:
    await admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    await admin_sql(f'CREATE DATABASE "{BENCH_DB}"')
    url = make_url(PG_BASE).set(database=BENCH_DB).render_as_string(hide_password=False)
    await migrate(url)
    return url


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "JWT_SECRET_KEY": SECRET,
        "WEBHOOK_SECRET": SECRET + "-webhooks",
        "API_KEY_SECRET": SECRET + "-api-keys",
        "RATE_LIMIT_BURST": "1000000",
        "RATE_LIMIT_PER_SECOND": "1000000",
        "SANDBOX_MODE": "external",  # initiate never calls a provider
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }


REAL_APP: Final = ("synccash.api:create_app_from_settings", "/api/v1/health/ready")
BARE_APP: Final = ("synccash.bench.bare_api:create_app", "/health")


def _start_api(
    env: dict[str, str], port: int, workers: int, factory: str = REAL_APP[0]
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    # the server's log (access lines at INFO, as in production) goes to a file: its errors
    # are shown when the server fails or answers 5xx
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
        prefix="bench-api-", suffix=".log", delete=False
    )
    _LOGS[port] = Path(log.name)
    return subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


_LOGS: dict[int, Path] = {}


def _log_tail(port: int, lines: int = 30) -> str:
    """The last lines of the server's log that are not access lines."""
    path = _LOGS.get(port)
    if path is None or not path.exists():
        return ""
    kept = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if '"event":"request"' not in line
    ]
    return "\n".join(kept[-lines:])


def _wait_ready(port: int, path: str = REAL_APP[1], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not become ready:\n{_log_tail(port)}")


def _request(port: int, token: str, key: str) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _load(
    port: int, token: str, seconds: float, connections: int, rate: float | None
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    counter = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    stop = started + seconds
    interval = connections / rate if rate else 0.0

    async def worker(n: int) -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at = started + (n * interval / connections if rate else 0.0)
        try:
            while True:
                if rate:
                    # open loop: requests are due at fixed times; latency counts from that time
                    now = time.perf_counter()
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    due = next_at
                    next_at += interval
                else:
                    due = time.perf_counter()
                if due >= stop:
                    return
                counter += 1
                status = await _one(reader, writer, _request(port, token, f"{run}-{counter}"))
                latencies.append(time.perf_counter() - due)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _drive(
    port: int, token: str, seconds: float, connections: int, rate: float | None
) -> dict[str, Any]:
    """Run the load generator in its own process and return its numbers."""
    args = json.dumps([port, token, seconds, connections, rate])
    out = subprocess.run(
        [sys.executable, "-m", "synccash.bench.api", "--load", args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- main
def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its workers (load-independent cost)."""
    return sum(cpu_seconds(one) for one in family(pid))


def _rss_mb(pid: int) -> float:
    """RSS of the server and its children (uvicorn workers), in MB."""
    return sum(rss_mb(one) for one in family(pid))


@define
class Server:
    """One app under uvicorn on its own port."""

    app: tuple[str, str]
    port: int
    process: subprocess.Popen[bytes]
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    statuses: dict[str, int] = field(factory=dict)
    latencies: list[tuple[float, float]] = field(factory=list)  # (p50, p99) per slice

    @classmethod
    def start(cls, app: tuple[str, str], env: dict[str, str], workers: int) -> Server:
        """Start it and wait until it answers."""
        port = free_port()
        server = cls(app, port, _start_api(env, port, workers, app[0]))
        _wait_ready(port, app[1])
        return server

    def saturate(self, token: str, seconds: float, connections: int) -> None:
        """One saturation slice; adds its requests, time, CPU and statuses."""
        cpu = _cpu_seconds(self.process.pid)
        out = _drive(self.port, token, seconds, connections, None)
        self.seconds += out["requests"] / max(out["rps"], 1e-9)  # the load's own clock
        self.cpu += _cpu_seconds(self.process.pid) - cpu
        self.requests += out["requests"]
        self.latencies.append((out["p50_ms"], out["p99_ms"]))
        for code, n in out["statuses"].items():
            self.statuses[code] = self.statuses.get(code, 0) + n

    @property
    def rps(self) -> float:
        """Requests per second over every slice."""
        return self.requests / max(self.seconds, 1e-9)

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request over every slice."""
        return self.cpu * 1000 / max(1, self.requests)

    def summary(self) -> dict[str, Any]:
        """The saturation numbers as one JSON-able dict."""
        p99s = sorted(p99 for _, p99 in self.latencies)
        return {
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "median_slice_p99_ms": round(p99s[len(p99s) // 2], 1) if p99s else 0.0,
            "statuses": self.statuses,
        }

    def stop(self, other_statuses: dict[str, int] | None = None) -> None:
        """Stop it; show its errors if it answered any (here or in `other_statuses`)."""
        stop(self.process)
        if any(not code.startswith("2") for code in {**self.statuses, **(other_statuses or {})}):
            print(f"{self.app[0]} answered errors; its log ends:\n{_log_tail(self.port)}")
        _LOGS.pop(self.port).unlink(missing_ok=True)


def _cpu_line(what: str, cpu_ms: float) -> str:
    per_core = 1000 / max(cpu_ms, 0.01)
    return f"{what}: {cpu_ms:.2f} ms (about {per_core:.0f} req/s per fully used core)"


def main() -> None:
    """Run the benchmark and print the summary line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)  # <= the DB pool (20)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_API_WORKERS", "1"))
    )
    parser.add_argument(
        "--slices", type=int, default=4, help="saturation slices, alternating API and bare"
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        port, token, seconds, connections, rate = json.loads(args.load)
        print(json.dumps(asyncio.run(_load(port, token, seconds, connections, rate))))
        return

    database_url = asyncio.run(_fresh_database())
    flush_redis(REDIS_URL)
    env = _env(database_url)
    token = mint_token(Settings.from_env(env), "bench-merchant", ["payments:write"], 3600)
    print(f"uvicorn --workers {args.workers} --loop uvloop --http httptools", flush=True)
    real = Server.start(REAL_APP, env, args.workers)
    paced: dict[str, Any] = {}
    try:
        bare = Server.start(BARE_APP, env, args.workers)
        try:
            for server in (real, bare):  # warm-up: pools, caches, lazy imports
                _drive(server.port, token, 2.0, 16, None)
            # Alternate short slices, so a burst of other work on the box lands on both sides.
            for _ in range(args.slices):
                for server in (real, bare):
                    server.saturate(token, args.seconds / args.slices, args.connections)
        finally:
            bare.stop()
        paced = _drive(real.port, token, args.seconds, 32, args.rate)
        rss = _rss_mb(real.process.pid)
    finally:
        real.stop(paced.get("statuses"))
    print(f"saturation ({args.connections} connections): {json.dumps(real.summary())}")
    print(_cpu_line("API CPU per initiate", real.cpu_ms))
    print(f"paced ({args.rate:.0f} req/s offered): {json.dumps(paced)}")
    print(
        f"bare Litestar + asyncpg endpoint, same inserts + XADD, saturation "
        f"({args.connections} connections, same slices): {json.dumps(bare.summary())}"
    )
    print(_cpu_line("bare CPU per request", bare.cpu_ms))
    print(
        f"initiate_rps={real.rps:.0f} p50_ms={paced['p50_ms']:.1f} "
        f"p99_ms={paced['p99_ms']:.1f} rss_mb={rss:.0f} "
        f"bare_rps={bare.rps:.0f} ratio={real.rps / max(bare.rps, 1e-9):.2f}"
    )


if __name__ == "__main__":
    main()
