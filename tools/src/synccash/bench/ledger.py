"""What a posting costs: the save that confirms a collection, with and without its entry.

A confirmed collection's save is one statement on PostgreSQL (the optimistic UPDATE with
its attempt upsert, audit event and outbox row); with the ledger it also carries the
collection's journal entry (one entry, two postings) as two more CTEs. This benchmark
sends both forms of that statement for fresh payments, one at a time on one connection
inside one transaction timed through its commit (so server time is neither hidden by
concurrency nor drowned by a WAL flush per statement), and reports per save:

- client CPU (process time) to derive the entries, build the parameters and bind them;
- wall time per statement (round trip + server work: the CTEs and the ledger's triggers);
- round trips: both forms are one statement.

Everything goes to a throwaway database this run creates and drops.

    uv run python -m synccash.bench.ledger [--saves 2000]

Last line: save_us=<n> save_ledger_us=<m> posting_wall_us=<m-n> posting_cpu_us=<c> round_trips=0
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.adapters.sql import (
    compile_new_payment,
    compile_save,
    migrate,
    new_payment_params,
    save_params,
)
from synccash.core.ledger import entries_for
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind, AttemptStatus, Payee, Payment, Wallet
from synccash.core.providers import ProviderId

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PAYER = Msisdn.parse("0241234567")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIALECT = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]


def processing(n: int) -> Payment:
    """A collection with its attempt at the provider."""
    payment = Payment.initiate(
        payment_id=str(uuid.uuid4()),
        merchant_id="bench",
        amount=Money(1_000 + n % 100),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(merchant_account="bench"),
        now=T0,
        expires_at=T0 + timedelta(hours=1),
    )
    payment.add_attempt(
        reference=str(uuid.uuid4()),
        provider=ProviderId.MTN,
        kind=AttemptKind.COLLECT,
        msisdn=PAYER,
        amount=payment.amount,
        at=T0,
    )
    return payment


def confirm(payment: Payment) -> None:
    """The attempt succeeded (the state the confirming save writes)."""
    payment.new_events.clear()
    attempt = payment.attempts[0]
    payment.update_attempt(attempt, AttemptStatus.SUCCEEDED, ProviderOutcome.succeeded(), T0)


def save_args(payment: Payment, *, ledger: bool) -> tuple[str, tuple[Any, ...]]:
    """The confirming save's SQL and bound arguments (with or without its entries)."""
    entries = entries_for(payment) if ledger else ()
    compiled = compile_save(DIALECT, len(payment.attempts), 1, ledger=bool(entries))
    params = save_params(payment, payment.version, payment.new_events, entries)
    return compiled.sql, compiled.bind(params)


async def _seed(conn: asyncpg.Connection, count: int) -> list[Payment]:
    payments = [processing(i) for i in range(count)]
    for payment in payments:
        compiled = compile_new_payment(DIALECT, 1, len(payment.new_events))
        await conn.execute(
            compiled.sql, *compiled.bind(new_payment_params(payment, payment.new_events))
        )
        payment.new_events.clear()
        confirm(payment)
    return payments


def _cpu_per_save(payments: list[Payment], build: Callable[[Payment], object]) -> float:
    started = time.process_time()
    for payment in payments:
        build(payment)
    return (time.process_time() - started) / len(payments) * 1e6


async def _wall_per_save(
    conn: asyncpg.Connection, payments: list[Payment], *, ledger: bool
) -> float:
    argsets = [save_args(p, ledger=ledger) for p in payments]
    started = time.perf_counter()
    # one transaction, timed through its commit (where the deferred ledger checks run), so
    # the per-statement WAL flush of autocommit does not drown the difference
    async with conn.transaction():
        for sql, args in argsets:
            if await conn.fetchval(sql, *args) != 1:
                raise RuntimeError("a benchmark save did not match its version")
    return (time.perf_counter() - started) / len(payments) * 1e6


async def run(url: str, saves: int) -> dict[str, float]:
    """Both forms over fresh payments on a throwaway database."""
    name = f"synccash_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as c:
        await c.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_url(url).set(database=name)
    try:
        await migrate(target.render_as_string(hide_password=False))
        conn = await asyncpg.connect(
            target.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            plain, booked = await _seed(conn, saves), await _seed(conn, saves)
            cpu_plain = _cpu_per_save(plain, lambda p: save_args(p, ledger=False))
            cpu_booked = _cpu_per_save(booked, lambda p: save_args(p, ledger=True))
            for _ in range(2):  # warm both statements' plans
                await _wall_per_save(conn, [plain.pop()], ledger=False)
                await _wall_per_save(conn, [booked.pop()], ledger=True)
            wall_plain = await _wall_per_save(conn, plain, ledger=False)
            wall_booked = await _wall_per_save(conn, booked, ledger=True)
        finally:
            await conn.close()
    finally:
        async with admin.connect() as c:
            await c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
    return {
        "save_us": wall_plain,
        "save_ledger_us": wall_booked,
        "cpu_us": cpu_plain,
        "cpu_ledger_us": cpu_booked,
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    r = asyncio.run(run(args.url, args.saves))
    print(f"confirming save, one at a time, {args.saves} saves per form")
    print(
        f"  client CPU to build: {r['cpu_us']:.1f} us plain, {r['cpu_ledger_us']:.1f} us with the entry"
    )
    print(
        f"  wall per statement:  {r['save_us']:.0f} us plain, {r['save_ledger_us']:.0f} us with the entry"
    )
    print(
        f"save_us={r['save_us']:.0f} save_ledger_us={r['save_ledger_us']:.0f} "
        f"posting_wall_us={r['save_ledger_us'] - r['save_us']:.0f} "
        f"posting_cpu_us={r['cpu_ledger_us'] - r['cpu_us']:.1f} round_trips=0"
    )


if __name__ == "__main__":
    main()
