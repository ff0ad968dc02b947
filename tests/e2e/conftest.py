"""A live stack for the e2e tests: sandboxes, the API and one worker as separate processes.

PostgreSQL is the shared server (a throwaway database per session), Redis db 10
(flushed at start). Programs log JSON to files that `test_security` scans for leaks.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from attrs import frozen

from synccash.adapters.settings import Settings
from synccash.api.auth import ALL_SCOPES, Scope, mint_token
from synccash.bench.harness.processes import free_port
from synccash.bench.harness.stores import flush_redis
from synccash.chaos._procs import ClusterPostgres
from synccash.chaos._stack import (
    Stack,
    Timings,
    create_database,
    drop_database,
    service_env,
)

ADMIN_URL = os.environ.get(
    "E2E_POSTGRES_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/10")
#: Low enough that a burst test sees 429s even on a slow, busy machine; the fuzz run uses a
#: fresh merchant (a full bucket) per operation and mode, 25 requests each.
RATE_PER_SECOND = 5
RATE_BURST = 30


@frozen
class Live:
    """The running stack and how to talk to it."""

    stack: Stack
    settings: Settings

    @property
    def api_url(self) -> str:
        """Base URL of the API (no trailing slash)."""
        return self.stack.api_url

    @property
    def sandbox_url(self) -> str:
        """Base URL of the sandboxes process (/mtn, /airteltigo, /telecel)."""
        return self.stack.sandbox_url

    def token(self, merchant: str, scopes: Iterable[str | Scope] = ALL_SCOPES) -> str:
        """A valid merchant token."""
        return mint_token(self.settings, merchant, scopes)

    def log_files(self) -> list[Path]:
        """Our programs' logs (API, worker)."""
        return self.stack.log_files()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Sandboxes + API + one worker on PostgreSQL and Redis, for the whole session."""
    postgres = ClusterPostgres(ADMIN_URL)
    name = f"synccash_e2e_{uuid.uuid4().hex[:10]}"
    try:
        database_url = asyncio.run(create_database(postgres, name))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}", pytrace=False)
    flush_redis(REDIS_URL)
    api_port, sandbox_port = free_port(), free_port()
    env = service_env(
        os.environ,
        database_url=database_url,
        redis_url=REDIS_URL,
        api_port=api_port,
        sandbox_port=sandbox_port,
        timings=Timings(transaction_timeout_s=120, provider_timeout_s=2),
    )
    env |= {"RATE_LIMIT_PER_SECOND": str(RATE_PER_SECOND), "RATE_LIMIT_BURST": str(RATE_BURST)}
    stack = Stack.build(
        env,
        tmp_path_factory.mktemp("e2e-logs"),
        api_port=api_port,
        sandbox_port=sandbox_port,
        seed=11,
        workers=1,
    )
    try:
        stack.start()
        yield Live(stack, Settings.from_env(env))
    finally:
        stack.stop()
        asyncio.run(drop_database(postgres, name))
