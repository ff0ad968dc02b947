"""The stack a lifecycle benchmark drives: PostgreSQL, Redis, sandboxes, the API, K workers.

Each runs as its own process on loopback, started as an operator would (`synccash api`,
`synccash worker`); the sandboxes run in one process (`python -m synccash.bench.harness
sandbox PORT`) with no faults and an approval delay of BENCH_APPROVAL_MS (default 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
from attrs import define, field
from redis import Redis

from synccash.bench.harness.processes import (
    PYCACHE,
    children,
    cpu_seconds,
    free_port,
    peak_rss_mb,
    spawn,
    stop,
    synccash_executable,
    wait_http,
)
from synccash.bench.harness.stores import (
    REDIS_URL,
    backend_pids,
    drop_database,
    flush_redis,
    fresh_database,
    local_redis_pid,
)

MERCHANT: Final = "bench-merchant"
SECRET: Final = "bench-secret-key-long-enough-for-hs256-" + "l" * 24
PROVIDERS: Final = ("mtn", "airteltigo", "telecel")


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


def sandbox_command(port: int) -> list[str]:
    """The command line of the sandbox process (`serve_sandbox` on `port`)."""
    return [sys.executable, "-m", "synccash.bench.harness", "sandbox", str(port)]


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
        self.env = self._environment()
        log = self.logs / "sandbox.log"
        self.sandbox = spawn(sandbox_command(self.sandbox_port), self.env, log)
        wait_http(f"{self.sandbox_url}/mtn/_admin/config", self.sandbox, log)
        # Airtel registers the callback URL per application, not per request
        httpx.put(
            f"{self.sandbox_url}/airteltigo/_admin/config",
            json={"options": {"callback_url": f"{self.api_url}/api/v1/callbacks/airteltigo"}},
            timeout=10,
        ).raise_for_status()
        log = self.logs / "api.log"
        self.api = spawn(
            [
                synccash_executable(),
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
        wait_http(f"{self.api_url}/api/v1/health/ready", self.api, log)
        self.start_workers(self.workers)

    def _environment(self) -> dict[str, str]:
        """The API's and workers' settings: the bench stores, the sandboxes, no rate limit."""
        sandbox = self.sandbox_url
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "JWT_SECRET_KEY": SECRET,
            "WEBHOOK_SECRET": SECRET + "-webhooks",
            "API_KEY_SECRET": SECRET + "-api-keys",
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
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault("DATABASE_POOL_SIZE", "16")
        env.setdefault("DATABASE_MAX_OVERFLOW", "4")
        return env

    def start_workers(self, count: int) -> None:
        """Stop running workers, start `count` new ones (pools sized to fit max_connections)."""
        for process in self.worker_processes:
            stop(process)
        pool = int(os.environ.get("BENCH_WORKER_POOL_SIZE", str(max(4, 40 // max(count, 1)))))
        env = {**self.env, "DATABASE_POOL_SIZE": str(pool), "DATABASE_MAX_OVERFLOW": "2"}
        # A task holds a pooled connection only while a read is in flight (lone writes are
        # group-committed on the committer's own connections), so tasks can outnumber the
        # pool; 64 in flight on the machine is where more stopped helping (2 workers x 32).
        concurrency = self.worker_concurrency or max(8, 64 // max(count, 1))
        self.worker_processes = [
            spawn(
                [synccash_executable(), "worker", "--concurrency", str(concurrency)],
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
        backends = asyncio.run(backend_pids(self.database_url))
        if self.redis_pid is None:
            self.redis_pid = local_redis_pid()
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
            stop(process)
        for server in (self.api, self.sandbox):
            if server is not None:
                stop(server)

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
