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
import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
from attrs import frozen

from synccash.bench.harness.load import Outcome, run_batch
from synccash.bench.harness.pgbench import run_pgbench
from synccash.bench.harness.processes import load_average, stop_on_sigterm
from synccash.bench.harness.stack import PROVIDERS, Stack
from synccash.bench.harness.stores import commits, connect


# --------------------------------------------------------------------------- the ledgers
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
    rows = asyncio.run(_template_rows(database_url, template_payment))
    return run_pgbench(database_url, lifecycle_script(rows), clients=clients, seconds=seconds)


# --------------------------------------------------------------------------- main
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
    args = parser.parse_args()
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
