"""Database benchmark: initiate transactions through the repository vs pgbench, same SQL work.

One initiate = one commit holding a payment row, its first audit event and one outbox row.
The repository side runs N concurrent asyncio tasks through SqlUnitOfWork on PostgreSQL
(add + commit: one INSERT ... WITH statement, sent on its own without BEGIN/COMMIT, so one
round trip; concurrent ones are group-committed in batches as in production). pgbench runs that very statement, prepared, with N clients. A third line runs
it on bare asyncpg (no SQLAlchemy, no unit of work): the ceiling for a Python client on this
machine. So the ratio measures what Python, SQLAlchemy and asyncpg cost on top of the
database's own work. Everything goes to a throwaway database this run creates and drops.

    uv run python -m synccash.bench.db [--seconds 10] [--concurrency 32]

Last line: db_initiate_per_s=<n> pgbench_per_s=<m> ratio=<n/m>
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import re
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from attrs import frozen
from sqlalchemy import Dialect, text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.adapters.sql import (
    SqlUnitOfWorkFactory,
    compile_new_payment,
    make_engine,
    migrate,
    new_payment_params,
)
from synccash.bench.harness.pgbench import run_pgbench
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Payment, Wallet
from synccash.core.providers import ProviderId

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

PAYER = Msisdn.parse("0241234567")
PAYEE = Payee(msisdn=Msisdn.parse("0551234567"))
WALLETS = (Wallet(ProviderId.MTN, PAYER, Money(50_000)),)


def _literal(name: str, value: object) -> str:
    """An SQL literal pgbench will not mistake for a :variable (colons escaped)."""
    ids = {
        "p_id": "('pgb-' || :n)",
        "e0_payment_id": "('pgb-' || :n)",
        "o0_payment_id": "('pgb-' || :n)",
        "p_idempotency_key": "('pgb-key-' || :n)",
        "o0_id": "md5('pgb-' || :n)",
    }
    if name in ids:
        return ids[name]
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return "now()"
    escaped = str(value).replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
    return f"E'{escaped}'"


def pgbench_script(dialect: Dialect) -> str:
    """The repository's own new-payment statement with literal values (autocommit, as it sends it)."""
    sample = new_payment(0)
    compiled = compile_new_payment(dialect, 0, len(sample.new_events))
    values = compiled.bind(new_payment_params(sample, sample.new_events))
    by_position = {
        i + 1: _literal(n, v) for i, (n, v) in enumerate(zip(compiled.names, values, strict=True))
    }
    body = re.sub(r"\$(\d+)", lambda m: by_position[int(m.group(1))], compiled.sql)
    return f"\\set n random(1, 9000000000000000000)\n{body};\n"


def new_payment(n: int) -> Payment:
    """A fresh payment as the initiate use-case builds it."""
    now = datetime.now(UTC)
    payment_id = str(uuid.uuid4())
    return Payment.initiate(
        payment_id=payment_id,
        merchant_id="bench-merchant",
        amount=Money(1250),
        payer=PAYER,
        wallets=WALLETS,
        payee=PAYEE,
        now=now,
        expires_at=now + timedelta(minutes=15),
        description="Order 123",
        reference="order-123",
        metadata={"order": 123},
        webhook_url="https://merchant.example/hooks",
        idempotency_key=f"key-{n}-{payment_id}",
        fingerprint="fp",
    )


@frozen
class Rate:
    """Throughput of one side and the client CPU (user + system) it spent per transaction."""

    per_s: float
    cpu_us_per_tx: float


async def _drive(one: Callable[[], Awaitable[None]], seconds: float, concurrency: int) -> Rate:
    # warm up: open every pooled connection and prepare the statement on each
    await asyncio.gather(*(one() for _ in range(concurrency * 4)))
    done = 0

    async def worker(deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    cpu, start = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(start + seconds) for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return Rate(done / elapsed, cpu / max(done, 1) * 1e6)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def repository_rate(url: str, seconds: float, concurrency: int) -> Rate:
    """Initiates per second through SqlUnitOfWork with `concurrency` tasks.

    The unit-of-work factory is built as bootstrap builds it: with group commit, so
    concurrent initiates share round trips and commits.
    """
    engine = make_engine(url, pool_size=concurrency, max_overflow=0)
    factory = SqlUnitOfWorkFactory(engine, group_commit=True)
    counter = itertools.count()

    async def one() -> None:
        async with factory() as uow:
            await uow.payments.add(new_payment(next(counter)))
            await uow.commit()

    try:
        return await _drive(one, seconds, concurrency)
    finally:
        await factory.aclose()
        await engine.dispose()


async def driver_rate(url: str, seconds: float, concurrency: int) -> Rate:
    """The same payments and statement on bare asyncpg: the Python driver's own ceiling."""
    parsed = make_url(url)
    # plain connections handed around by a queue: asyncpg's pool would add a reset
    # round trip on every release that neither the repository nor pgbench pays
    connections: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(concurrency):
        connections.put_nowait(
            await asyncpg.connect(
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                password=parsed.password,
                database=parsed.database,
            )
        )
    dialect: Dialect = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]
    counter = itertools.count(10**9)

    async def one() -> None:
        payment = new_payment(next(counter))
        compiled = compile_new_payment(dialect, 0, len(payment.new_events))
        args = compiled.bind(new_payment_params(payment, payment.new_events))
        conn = await connections.get()
        try:
            await conn.execute(compiled.sql, *args)
        finally:
            connections.put_nowait(conn)

    try:
        return await _drive(one, seconds, concurrency)
    finally:
        while not connections.empty():
            await connections.get_nowait().close()


def pgbench_rate(url: str, seconds: float, concurrency: int) -> float:
    """Transactions per second of the equivalent SQL under pgbench (prepared statements)."""
    dialect: Dialect = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]
    return run_pgbench(url, pgbench_script(dialect), clients=concurrency, seconds=seconds)


async def _admin(url: str, sql: str) -> None:
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


def _repository_in_process(url: str, seconds: float, tasks: int) -> Rate:
    return asyncio.run(repository_rate(url, seconds, tasks))


def _in_processes(url: str, seconds: float, tasks: int, processes: int) -> Rate:
    """Run the repository side in `processes` processes sharing `tasks` tasks; sum the rates."""
    if processes <= 1:
        return _repository_in_process(url, seconds, tasks)
    shares = [tasks // processes + (1 if i < tasks % processes else 0) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        rates = pool.starmap(_repository_in_process, [(url, seconds, k) for k in shares])
    total = sum(r.per_s for r in rates)
    cpu = sum(r.cpu_us_per_tx * r.per_s for r in rates) / total if total else 0.0
    return Rate(total, cpu)


def main() -> None:
    """Create a throwaway database, run both sides, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="split the tasks over this many processes (as several API workers would)",
    )
    args = parser.parse_args()
    name = f"synccash_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(args.url, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(migrate(url))
        n = args.concurrency
        repo = _in_processes(url, args.seconds, n, args.processes)
        print(
            f"repository:  {repo.per_s:.0f} initiates/s ({n} tasks in {args.processes} "
            f"process(es), {repo.cpu_us_per_tx:.0f} us client CPU per initiate)"
        )
        driver = asyncio.run(driver_rate(url, args.seconds, n))
        print(
            f"bare asyncpg: {driver.per_s:.0f} tx/s, same statement ({n} tasks, "
            f"{driver.cpu_us_per_tx:.0f} us client CPU per tx)"
        )
        pg_rate = pgbench_rate(url, args.seconds, n)
        print(f"pgbench:     {pg_rate:.0f} tx/s, same statement ({n} clients)")
        db_rate = repo.per_s
    finally:
        asyncio.run(_admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(
        f"db_initiate_per_s={db_rate:.0f} pgbench_per_s={pg_rate:.0f} ratio={db_rate / pg_rate:.2f}"
    )


if __name__ == "__main__":
    main()
