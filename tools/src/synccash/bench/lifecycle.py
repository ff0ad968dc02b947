"""bench-lifecycle: payments initiated through the API until CONFIRMED, vs pgbench's durable limit.

Real separate processes on loopback: PostgreSQL (a throwaway database), Redis (db 13,
flushed), the three provider sandboxes (zero approval delay, no faults, callbacks on),
the API (`synccash api`, uvicorn) and K worker processes (`synccash worker`). A load
generator in its own process initiates N payments at full speed (keep-alive HTTP/1.1,
a fixed number of connections, a unique Idempotency-Key each, a minted merchant token),
and this process waits until every one is terminal, asking PostgreSQL with one query.

    lifecycles/s = N / (first initiate sent -> last payment terminal)

In the same run pgbench replays, per transaction, the SQL of one lifecycle built from the
rows a real lifecycle of this run wrote (payment + event + outbox insert; the state updates
with version checks to VALIDATING, PENDING, PROCESSING with the attempt insert, CONFIRMED
with the attempt update; each transition's events and outbox rows; one commit per
transition): the durable limit of the same work on this machine.

Every accepted (202) payment is checked against the sandboxes' own ledgers (admin API):
lost = accepted but not CONFIRMED, or CONFIRMED with no ledger debit; double_debits =
payments with more than one debit.

    uv run python -m synccash.bench.lifecycle [--payments 3000] [--workers 2]

Tuning through the environment (passed on to the API and workers): DATABASE_POOL_SIZE,
DATABASE_MAX_OVERFLOW, LOG_LEVEL; BENCH_DATABASE (default synccash_bench),
BENCH_WORKER_CONCURRENCY (tasks per worker process), BENCH_WORKER_POOL_SIZE,
BENCH_API_WORKERS (uvicorn processes), BENCH_APPROVAL_MS (sandbox approval delay, default 0),
BENCH_PAYEE (merchant | wallets), BENCH_PG_URL, BENCH_REDIS_URL.

Last line: lifecycle_per_s=<n> pgbench_limit_per_s=<m> ratio=<n/m> lost=<k> double_debits=<d>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from attrs import define, field, frozen
from sqlalchemy.engine import make_url

PG_BASE: Final = os.environ.get(
    "BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL: Final = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BENCH_DB: Final = os.environ.get("BENCH_DATABASE", "synccash_bench")
MERCHANT: Final = "bench-merchant"
SECRET: Final = "bench-secret-key-long-enough-for-hs256-" + "l" * 24
INITIATE_PATH: Final = "/api/v1/payments/initiate"
TERMINAL: Final = ("CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED")
PROVIDERS: Final = ("mtn", "airteltigo", "telecel")
#: Bytecode of the processes this bench starts (the tree itself stays free of .pyc files).
PYCACHE: Final = Path(tempfile.gettempdir()) / "synccash-bench-pycache"
#: Payer prefixes, one per network, so every provider sees a third of the payments.
_PREFIXES: Final = ("024", "020", "027")


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of one process, in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Direct child processes (uvicorn's worker processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except FileNotFoundError:
        return []


_TICKS: Final = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _local_redis_pid() -> int:
    """The Redis server's pid from INFO, if that process is on this machine (else 0)."""
    from redis import Redis  # noqa: PLC0415

    client = Redis.from_url(REDIS_URL)
    try:
        pid = int(client.info("server").get("process_id", 0))
    finally:
        client.close()
    return pid if pid and Path(f"/proc/{pid}/stat").exists() else 0


def _synccash() -> str:
    exe = Path(sys.executable).parent / "synccash"
    return str(exe) if exe.exists() else (shutil.which("synccash") or "synccash")


def _spawn(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: process exited; log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def serve_sandbox(port: int) -> None:
    """The three sandboxes on one port: no faults, no access log, approval after
    BENCH_APPROVAL_MS milliseconds (default 0: the payer approves at once)."""
    import anyio  # noqa: PLC0415
    import uvicorn  # noqa: PLC0415

    from synccash.sandbox import ApprovalDelay, SandboxHttpProtocol, build_served_app  # noqa: PLC0415

    delay = float(os.environ.get("BENCH_APPROVAL_MS", "0")) / 1000
    app = build_served_app(None, approval_delay=ApprovalDelay(delay, delay))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        http=SandboxHttpProtocol,
    )
    anyio.run(uvicorn.Server(config).serve)


# --------------------------------------------------------------------------- the stack
async def connect(url: str, attempts: int = 20) -> asyncpg.Connection:
    """asyncpg connection; retries while the server is out of connection slots (shared box)."""
    for attempt in range(attempts):
        try:
            return await asyncpg.connect(_dsn(url))
        except asyncpg.TooManyConnectionsError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError  # unreachable


async def _admin_sql(statement: str) -> None:
    conn = await connect(PG_BASE)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bench_database_url() -> str:
    """SQLAlchemy URL of the bench database."""
    return make_url(PG_BASE).set(database=BENCH_DB).render_as_string(hide_password=False)


async def fresh_database() -> str:
    """Drop and create the bench database, migrate it; its URL."""
    from synccash.adapters.sql import migrate  # noqa: PLC0415

    await _admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    await _admin_sql(f'CREATE DATABASE "{BENCH_DB}"')
    url = bench_database_url()
    await migrate(url)
    return url


def drop_database() -> None:
    """Remove the bench database."""
    asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))


def flush_redis() -> None:
    """Empty the bench Redis database."""
    from redis import Redis  # noqa: PLC0415

    client = Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


@define
class Stack:
    """PostgreSQL + Redis + sandboxes + API + K workers, each its own process."""

    workers: int = 2
    #: tasks per worker process; 0 = 64 shared by the workers (see `start_workers`)
    worker_concurrency: int = field(
        factory=lambda: int(os.environ.get("BENCH_WORKER_CONCURRENCY", "0"))
    )
    api_workers: int = field(factory=lambda: int(os.environ.get("BENCH_API_WORKERS", "1")))
    logs: Path = field(factory=lambda: Path(tempfile.mkdtemp(prefix="synccash-bench-")))
    api_port: int = 0
    sandbox_port: int = 0
    database_url: str = ""
    env: dict[str, str] = field(factory=dict)
    api: subprocess.Popen[bytes] | None = None
    sandbox: subprocess.Popen[bytes] | None = None
    worker_processes: list[subprocess.Popen[bytes]] = field(factory=list)
    worker_concurrency_used: int = 0
    redis_pid: int | None = None  # the Redis server's process, when it runs on this machine

    @property
    def api_url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        """Base URL of the combined sandbox app."""
        return f"http://127.0.0.1:{self.sandbox_port}"

    def token(self) -> str:
        """A merchant bearer token for the bench merchant."""
        from synccash.adapters.settings import Settings  # noqa: PLC0415
        from synccash.api.auth import mint_token  # noqa: PLC0415

        settings = Settings.from_env(self.env)
        return mint_token(settings, MERCHANT, ["payments:write", "payments:read"], 3600)

    def start(self) -> None:
        """Fresh database and Redis, then sandbox, API and workers; returns when all serve."""
        self.database_url = asyncio.run(fresh_database())
        flush_redis()
        self.api_port, self.sandbox_port = free_port(), free_port()
        sandbox = self.sandbox_url
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "JWT_SECRET_KEY": SECRET,
            "WEBHOOK_SECRET": SECRET + "-webhooks",
            "RATE_LIMIT_BURST": "1000000",
            "RATE_LIMIT_PER_SECOND": "1000000",
            "SANDBOX_MODE": "external",
            "MTN_BASE_URL": f"{sandbox}/mtn",
            "AIRTELTIGO_BASE_URL": f"{sandbox}/airteltigo",
            "TELECEL_BASE_URL": f"{sandbox}/telecel",
            "PUBLIC_BASE_URL": self.api_url,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "LOG_FORMAT": "json",
            # compile each module once, not at every process start (cache outside the tree)
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.setdefault("DATABASE_POOL_SIZE", "16")
        self.env.setdefault("DATABASE_MAX_OVERFLOW", "4")
        log = self.logs / "sandbox.log"
        self.sandbox = _spawn(
            [
                sys.executable,
                "-m",
                "synccash.bench.lifecycle",
                "--serve-sandbox",
                str(self.sandbox_port),
            ],
            self.env,
            log,
        )
        _wait_http(f"{sandbox}/mtn/_admin/config", self.sandbox, log)
        # Airtel registers the callback URL per application, not per request
        httpx.put(
            f"{sandbox}/airteltigo/_admin/config",
            json={"options": {"callback_url": f"{self.api_url}/api/v1/callbacks/airteltigo"}},
            timeout=10,
        ).raise_for_status()
        log = self.logs / "api.log"
        self.api = _spawn(
            [
                _synccash(),
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                str(self.api_workers),
            ],
            self.env,
            log,
        )
        _wait_http(f"{self.api_url}/api/v1/health/ready", self.api, log)
        self.start_workers(self.workers)

    def start_workers(self, count: int) -> None:
        """Stop running workers, start `count` new ones (pools sized to fit max_connections)."""
        for process in self.worker_processes:
            _stop(process)
        pool = int(os.environ.get("BENCH_WORKER_POOL_SIZE", str(max(4, 40 // max(count, 1)))))
        env = {**self.env, "DATABASE_POOL_SIZE": str(pool), "DATABASE_MAX_OVERFLOW": "2"}
        # A task holds a pooled connection only while a read is in flight (lone writes are
        # group-committed on the committer's own connections), so tasks can outnumber the
        # pool; 64 in flight on the machine is where more stopped helping (2 workers x 32).
        concurrency = self.worker_concurrency or max(8, 64 // max(count, 1))
        self.worker_processes = [
            _spawn(
                [_synccash(), "worker", "--concurrency", str(concurrency)],
                env,
                self.logs / f"worker-{count}-{n}.log",
            )
            for n in range(count)
        ]
        self.workers = count
        self.worker_concurrency_used = concurrency
        self._wait_consumers()

    def _wait_consumers(self, timeout: float = 120.0) -> None:
        """Until as many clients of the bench Redis db wait in XREADGROUP as workers run."""
        from redis import Redis  # noqa: PLC0415

        client = Redis.from_url(REDIS_URL)
        db = str(client.connection_pool.connection_kwargs.get("db", 0))
        deadline = time.monotonic() + timeout
        try:
            while True:
                for n, process in enumerate(self.worker_processes):
                    if process.poll() is not None:
                        log = (self.logs / f"worker-{self.workers}-{n}.log").read_text()[-3000:]
                        raise SystemExit(f"worker {n} exited at start:\n{log}")
                reading = sum(
                    1
                    for c in client.client_list()
                    if str(c.get("db")) == db and c.get("cmd") == "xreadgroup"
                )
                if reading >= len(self.worker_processes):
                    return
                if time.monotonic() > deadline:
                    raise SystemExit("workers did not start reading the task stream")
                time.sleep(0.1)
        finally:
            client.close()

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds so far per role: api, workers, sandbox, postgres (bench db backends)."""
        backends = asyncio.run(_backend_pids(self.database_url))
        if self.redis_pid is None:
            self.redis_pid = _local_redis_pid()
        return {
            "api": sum(cpu_seconds(p) for p in self.api_pids()),
            "workers": sum(cpu_seconds(p.pid) for p in self.worker_processes),
            "sandbox": cpu_seconds(self.sandbox.pid) if self.sandbox else 0.0,
            "postgres": sum(cpu_seconds(p) for p in backends),
            # the whole server (other clients of it count too; none on a quiet box)
            "redis": cpu_seconds(self.redis_pid) if self.redis_pid else 0.0,
        }

    def api_pids(self) -> list[int]:
        """The API's process and its uvicorn worker processes."""
        return [] if self.api is None else [self.api.pid, *children(self.api.pid)]

    def rss(self) -> dict[str, float]:
        """Peak RSS in MB: API (largest process) and workers (largest process)."""
        api = max((peak_rss_mb(p) for p in self.api_pids()), default=0.0)
        worker = max((peak_rss_mb(p.pid) for p in self.worker_processes), default=0.0)
        return {"api_peak_rss_mb": round(api, 1), "worker_peak_rss_mb": round(worker, 1)}

    def stop(self) -> None:
        """Stop every process (workers first), keep the database for inspection."""
        for process in self.worker_processes:
            _stop(process)
        for server in (self.api, self.sandbox):
            if server is not None:
                _stop(server)

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        """Start, yield, stop and drop the database."""
        try:
            self.start()
            yield self
        finally:
            self.stop()
            with contextlib.suppress(Exception):
                drop_database()


# --------------------------------------------------------------------------- load generator
def payer(n: int) -> str:
    """A distinct payer MSISDN per payment, networks in turn; never a sandbox test number."""
    return f"{_PREFIXES[n % 3]}{1_000_000 + n // 3 % 8_000_000}"


#: "merchant": every payment pays the merchant's own account (a collection, the common case);
#: "wallets": each pays a distinct payee wallet (no payee sees more than one payer).
PAYEE_MODE = os.environ.get("BENCH_PAYEE", "merchant")


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


async def _initiate(  # noqa: PLR0917  (the --load JSON spec, positionally)
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
        [sys.executable, "-m", "synccash.bench.lifecycle", "--load", spec],
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


async def _backend_pids(database_url: str) -> list[int]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def _attempt_references(database_url: str, ids: Sequence[str]) -> dict[str, str]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT reference, payment_id, provider_transaction_id FROM payment_attempts "
            "WHERE payment_id = ANY($1::text[])",
            list(ids),
        )
    finally:
        await conn.close()
    refs = {r["reference"]: r["payment_id"] for r in rows}
    # Telecel's client reference is the attempt reference without dashes
    refs.update({r["reference"].replace("-", ""): r["payment_id"] for r in rows})
    refs.update(
        {
            r["provider_transaction_id"]: r["payment_id"]
            for r in rows
            if r["provider_transaction_id"]
        }
    )
    return refs


@frozen
class LedgerCheck:
    """The sandboxes' ledgers against what the API accepted."""

    lost: int
    double_debits: int
    unconfirmed: int
    confirmed_without_debit: int


def check_ledgers(stack: Stack, ids: Sequence[str], outcome: Outcome) -> LedgerCheck:
    """lost = accepted but not CONFIRMED or with no debit; double = more than one debit."""
    by_reference = asyncio.run(_attempt_references(stack.database_url, ids))
    debits: dict[str, int] = {}
    with httpx.Client(timeout=60) as client:
        for provider in PROVIDERS:
            entries = client.get(f"{stack.sandbox_url}/{provider}/_admin/ledger").json()["entries"]
            for entry in entries:
                if entry["kind"] != "debit":
                    continue
                payment = by_reference.get(entry["reference"]) or by_reference.get(
                    entry["provider_txn_id"]
                )
                if payment is not None:
                    debits[payment] = debits.get(payment, 0) + 1
    wanted = set(ids)
    unconfirmed = len(ids) - outcome.states.get("CONFIRMED", 0)
    confirmed_ids = set(outcome.confirmed_at)
    without_debit = sum(1 for p in confirmed_ids if debits.get(p, 0) == 0)
    double = sum(1 for p, n in debits.items() if p in wanted and n > 1)
    return LedgerCheck(unconfirmed + without_debit, double, unconfirmed, without_debit)


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
    load_cpu = _children_cpu()
    load = run_load(
        stack.api_port, stack.token(), first=first, count=count, connections=connections, rate=rate
    )
    accepted = [(str(a[0]), float(a[1])) for a in load["accepted"]]
    ids = tuple(a[0] for a in accepted)
    outcome = asyncio.run(wait_terminal(stack.database_url, ids, within_s=timeout))
    cpu_after = stack.cpu_snapshot()
    cpu = {role: cpu_after[role] - cpu_before[role] for role in cpu_before}
    cpu["load_generator"] = _children_cpu() - load_cpu
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


def _children_cpu() -> float:
    import resource  # noqa: PLC0415

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- pgbench
def _literal(value: object) -> str:
    """An SQL literal pgbench will not mistake for a :variable."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return "now()"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"))
    escaped = str(value).replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
    return f"E'{escaped}'"


def _id_literal(value: object, ids: dict[str, str]) -> str:
    """Ids of the template lifecycle become per-transaction ids built from :n."""
    if isinstance(value, str) and value in ids:
        return f"({ids[value]})"
    return _literal(value)


def _insert(table: str, row: dict[str, Any], ids: dict[str, str]) -> str:
    columns = ", ".join(row)
    values = ", ".join(_id_literal(v, ids) for v in row.values())
    return f"INSERT INTO {table} ({columns}) VALUES ({values});"  # noqa: S608  (bench script)


async def _template_rows(database_url: str, payment_id: str) -> dict[str, Any]:
    conn = await connect(database_url)
    try:
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        await conn.set_type_codec(
            "json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        payment = await conn.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id)
        events = await conn.fetch(
            "SELECT * FROM payment_events WHERE payment_id = $1 ORDER BY seq", payment_id
        )
        outbox = await conn.fetch(
            "SELECT * FROM outbox WHERE payment_id = $1 ORDER BY event_seq", payment_id
        )
        attempts = await conn.fetch(
            "SELECT * FROM payment_attempts WHERE payment_id = $1 ORDER BY seq", payment_id
        )
    finally:
        await conn.close()
    return {
        "payment": dict(payment) if payment else {},
        "events": [dict(r) for r in events],
        "outbox": [dict(r) for r in outbox],
        "attempts": [dict(r) for r in attempts],
    }


#: The transitions one lifecycle writes, each its own transaction, and what it changes.
_STEPS: Final = ("VALIDATING", "PENDING", "PROCESSING", "CONFIRMED")


def lifecycle_script(rows: dict[str, Any]) -> str:
    """pgbench script: one lifecycle's SQL, from the rows a real lifecycle wrote."""
    payment = rows["payment"]
    template_id = payment["id"]
    ids = {template_id: "'pgb-' || :n"}
    for i, r in enumerate(rows["outbox"]):
        ids[r["id"]] = f"md5('pgb-{i}-' || :n)"
    for i, r in enumerate(rows["attempts"]):
        ids[r["reference"]] = f"'pgb-a{i}-' || :n"
    final = dict(payment)
    events_by_state: dict[str, list[dict[str, Any]]] = {}
    state = "INITIATED"
    for event in rows["events"]:
        kind = str(event["type"]).removeprefix("payment.").upper()
        if kind in ("INITIATED", *_STEPS):
            state = kind
        events_by_state.setdefault(state, []).append(event)
    outbox_by_seq = {r["event_seq"]: r for r in rows["outbox"]}

    def writes(state: str) -> list[str]:
        out = []
        for event in events_by_state.get(state, []):
            out.append(_insert("payment_events", event, ids))
            if event["seq"] in outbox_by_seq:
                row = dict(outbox_by_seq[event["seq"]])
                row["published_at"] = None
                out.append(_insert("outbox", row, ids))
        return out

    first = {
        **final,
        "state": "INITIATED",
        "version": 1,
        "provider": None,
        "reached_provider": False,
        "routing": None,
        "risk": None,
        "fee_quote": None,
        "next_action_at": None,
    }
    first["idempotency_key"] = "pgb-key"
    lines = ["\\set n random(1, 9000000000000000000)", "BEGIN;"]
    insert = _insert("payments", first, ids).replace("E'pgb-key'", "('pgb-key-' || :n)")
    lines += [insert, *writes("INITIATED"), "COMMIT;"]
    attempt = rows["attempts"][0] if rows["attempts"] else None
    changed = (
        "provider",
        "reached_provider",
        "routing",
        "risk",
        "fee_quote",
        "fee_minor",
        "flagged_for_review",
        "next_action_at",
        "route",
    )
    for version, step in enumerate(_STEPS, start=1):
        sets = [f"state = {_literal(step)}", f"version = {version + 1}", "updated_at = now()"]
        sets += [f"{c} = {_id_literal(final[c], ids)}" for c in changed if c in final]
        update = (
            f"UPDATE payments SET {', '.join(sets)} "  # noqa: S608  (bench script)
            f"WHERE id = ('pgb-' || :n) AND version = {version};"
        )
        lines += ["BEGIN;", update]
        if step == "PROCESSING" and attempt is not None:
            lines.append(_insert("payment_attempts", {**attempt, "status": "pending"}, ids))
        if step == "CONFIRMED" and attempt is not None:
            lines.append(
                f"UPDATE payment_attempts SET status = {_literal(attempt['status'])}, "  # noqa: S608
                f"provider_transaction_id = {_literal(attempt['provider_transaction_id'])}, "
                f"poll_count = poll_count + 1, updated_at = now() "
                f"WHERE reference = ({ids[attempt['reference']]});"
            )
        lines += [*writes(step), "COMMIT;"]
    return "\n".join(lines) + "\n"


def pgbench_limit(database_url: str, template_payment: str, seconds: float, clients: int) -> float:
    """Lifecycles/s pgbench sustains replaying one real lifecycle's SQL."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (apt-get install postgresql-client)")
    rows = asyncio.run(_template_rows(database_url, template_payment))
    parsed = make_url(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "lifecycle.sql"
        script.write_text(lifecycle_script(rows))
        result = subprocess.run(
            [
                pgbench,
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(max(1, round(seconds))),
                "-f",
                str(script),
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port or 5432),
                "-U",
                parsed.username or "postgres",
                str(parsed.database),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": parsed.password or ""},
            check=False,
        )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


async def commits(database_url: str) -> int:
    """Committed transactions of the bench database so far (pg_stat_database)."""
    conn = await connect(database_url)
    try:
        value = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def load_average() -> str:
    """/proc/loadavg's first three numbers."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------- main
def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the stack's processes are stopped, not orphaned."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main() -> None:
    """Run the lifecycle benchmark and print the summary line last."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pgbench-seconds", type=float, default=10.0)
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox)
        return
    if args.load:
        port, token, first, count, connections, rate = json.loads(args.load)
        print(json.dumps(asyncio.run(_initiate(port, token, first, count, connections, rate))))
        return

    stop_on_sigterm()
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    with Stack(workers=args.workers).running() as stack:
        if args.warmup:
            warm = run_batch(stack, first=10_000_000, count=args.warmup, connections=16)
            print(f"warm-up: {warm.accepted} payments, {warm.states}")
        before = asyncio.run(commits(stack.database_url))
        run = run_batch(
            stack, first=0, count=args.payments, connections=args.connections, timeout=600
        )
        per_lifecycle = (asyncio.run(commits(stack.database_url)) - before) / max(run.accepted, 1)
        check = check_ledgers(stack, run.ids, run.outcome)
        rss = stack.rss()
        template = next(iter(run.outcome.confirmed_at), None)
        load_during = load_average()
        stack.stop()  # pgbench gets the machine to itself
        limit = (
            pgbench_limit(stack.database_url, template, args.pgbench_seconds, args.pgbench_clients)
            if template
            else 0.0
        )
    print(
        f"lifecycles: {run.accepted} accepted, errors {run.errors}, states {run.states}, "
        f"{run.seconds:.2f} s first initiate -> last terminal"
    )
    print(
        f"initiate rate {run.initiate_per_s:.0f}/s; latency initiate -> CONFIRMED "
        f"p50 {run.latency_ms['p50']} ms, p99 {run.latency_ms['p99']} ms; "
        f"{per_lifecycle:.1f} commits per lifecycle; workers {args.workers} x "
        f"{stack.worker_concurrency_used} tasks; peak RSS {rss}"
    )
    print(
        f"ledger check: unconfirmed {check.unconfirmed}, confirmed without debit "
        f"{check.confirmed_without_debit}; load average during run {load_during}"
    )
    cpu = run.cpu_ms_per_lifecycle
    cores = os.cpu_count() or 1
    print(
        "CPU ms per lifecycle: "
        + ", ".join(f"{role} {value:.2f}" for role, value in cpu.items())
        + f" -> at most {cores * 1000 / max(cpu['total'], 1e-9):.0f} lifecycles/s on "
        f"{cores} idle cores"
    )
    print(f"pgbench, same lifecycle SQL ({args.pgbench_clients} clients): {limit:.0f}/s")
    ratio = run.lifecycle_per_s / limit if limit else 0.0
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "lifecycle_per_s": round(run.lifecycle_per_s, 1),
                    "pgbench_limit_per_s": round(limit, 1),
                    "ratio": round(ratio, 3),
                    "lost": check.lost,
                    "double_debits": check.double_debits,
                    "payments": run.accepted,
                    "workers": args.workers,
                    "worker_concurrency": stack.worker_concurrency_used,
                    "latency_ms": run.latency_ms,
                    "commits_per_lifecycle": round(per_lifecycle, 2),
                    "cpu_ms_per_lifecycle": cpu,
                    "cpu_bound_estimate_per_s": round(cores * 1000 / max(cpu["total"], 1e-9)),
                    "initiate_per_s": round(run.initiate_per_s, 1),
                    "load_average_during": load_during,
                    **rss,
                },
                indent=2,
            )
        )
    print(
        f"lifecycle_per_s={run.lifecycle_per_s:.0f} pgbench_limit_per_s={limit:.0f} "
        f"ratio={ratio:.2f} lost={check.lost} double_debits={check.double_debits}"
    )


if __name__ == "__main__":
    main()
