"""The full stack of a chaos run as separate processes on loopback.

PostgreSQL (a private instance by default, or the shared cluster), a Redis
database of its own (flushed at start), the three provider sandboxes in one
process, the API (uvicorn) and two workers, all started through the `synccash`
CLI exactly as an operator would.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import httpx
from attrs import define
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.adapters.sql import migrate
from synccash.chaos._procs import Postgres, Program

DATABASE: Final = "synccash_chaos"
#: A fixed, long HS256 key for the run (the dev default would trigger PyJWT's short-key warning).
JWT_SECRET: Final = "chaos-run-secret-key-long-enough-for-hs256-" + "c" * 24


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def create_database(postgres: Postgres, name: str = DATABASE) -> str:
    """A fresh, migrated database for the run; its URL."""
    await _admin(postgres.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(postgres.admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres.admin_url).set(database=name).render_as_string(hide_password=False)
    await migrate(url)
    return url


async def drop_database(postgres: Postgres, name: str = DATABASE) -> None:
    """Drop the run's database."""
    await _admin(postgres.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@define
class Timings:
    """The timeouts that make a run settle quickly."""

    transaction_timeout_s: int = 45
    provider_timeout_s: int = 1


def service_env(
    base: Mapping[str, str],
    *,
    database_url: str,
    redis_url: str,
    api_port: int,
    sandbox_port: int,
    timings: Timings,
) -> dict[str, str]:
    """The environment the API and the workers share (SANDBOX_MODE=external)."""
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    return {
        **base,
        "DATABASE_URL": database_url,
        "DATABASE_POOL_SIZE": "10",
        "DATABASE_MAX_OVERFLOW": "10",
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": JWT_SECRET,
        "WEBHOOK_SECRET": JWT_SECRET + "-webhooks",
        "API_KEY_SECRET": JWT_SECRET + "-api-keys",
        "SANDBOX_MODE": "external",
        "MTN_BASE_URL": f"{sandbox}/mtn",
        "AIRTELTIGO_BASE_URL": f"{sandbox}/airteltigo",
        "TELECEL_BASE_URL": f"{sandbox}/telecel",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "TRANSACTION_TIMEOUT_SECONDS": str(timings.transaction_timeout_s),
        "PROVIDER_TIMEOUT_SECONDS": str(timings.provider_timeout_s),
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_BURST": "100000",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",  # a kill -9 must not eat the last log lines
    }


def _cli() -> str:
    return str(Path(sys.executable).with_name("synccash"))


@define
class Stack:
    """The running programs of a chaos run."""

    sandbox: Program
    api: Program
    workers: list[Program]
    api_url: str
    sandbox_url: str

    @classmethod
    def build(
        cls,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        api_port: int,
        sandbox_port: int,
        seed: int,
        workers: int = 2,
    ) -> Stack:
        """The programs, not started yet."""
        cli = _cli()
        sandbox = Program(
            "sandbox",
            [cli, "sandbox", "run", "--port", str(sandbox_port), "--seed", str(seed)],
            {**env, "LOG_LEVEL": "WARNING"},
            log_dir,
        )
        api = Program("api", [cli, "api", "--port", str(api_port)], env, log_dir)
        consumers = [
            Program(f"worker-{n}", [cli, "worker", "--concurrency", "16"], env, log_dir)
            for n in range(1, workers + 1)
        ]
        return cls(
            sandbox,
            api,
            consumers,
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{sandbox_port}",
        )

    @property
    def programs(self) -> list[Program]:
        """Every program, in start order."""
        return [self.sandbox, self.api, *self.workers]

    def start(self, timeout: float = 60.0) -> None:
        """Start everything and wait until the sandboxes and the API answer."""
        self.sandbox.start()
        wait_http(f"{self.sandbox_url}/mtn/_admin/faults", timeout, self.sandbox)
        self.api.start()
        wait_http(f"{self.api_url}/api/v1/health/ready", timeout, self.api)
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            wait_log(worker, "worker_started", timeout)

    def stop(self) -> dict[str, int | None]:
        """Stop every program gracefully (reverse order); exit codes by name."""
        return {p.name: p.stop() for p in reversed(self.programs)}

    def log_files(self) -> list[Path]:
        """Our own programs' logs (the sandboxes are the providers: their logs are theirs)."""
        return [p.log_path for p in (self.api, *self.workers)]


def wait_http(url: str, timeout: float, program: Program) -> None:
    """Poll `url` until it answers 200, failing early if `program` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not program.alive:
            raise RuntimeError(f"{program.name} exited; see {program.log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{program.name} did not answer {url} within {timeout:.0f} s")


def wait_log(program: Program, marker: str, timeout: float) -> None:
    """Wait until `program`'s log shows `marker` once per start (it is up and consuming)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not program.alive:
            raise RuntimeError(f"{program.name} exited; see {program.log_path}")
        if program.log_path.exists() and (
            program.log_path.read_text(errors="replace").count(marker) >= program.starts
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{program.name} did not log {marker!r} within {timeout:.0f} s")
