"""The money invariants, checked against the providers' own ledgers (the sandboxes' truth).

Figures:
- lost: a payment the API accepted (202) that is not in the database, plus every outbox
  event never seen on the `synccash:events` stream;
- double_debits: payments debited more than once (at one or several providers);
- mismatched: a state that disagrees with the ledgers (CONFIRMED without exactly one debit
  of the amount at the attempt's provider, FAILED/EXPIRED/CANCELLED with a net debit,
  REFUNDED without the matching refund), a debit no payment asked for, a state change
  without its audit event, an event id reused for different events;
- stuck: payments not in a terminal state (or with a refund still open) when the run ended;
- ledger_differences: what `synccash ledger verify` lists (the books recomputed, every
  payment's implied entries, every sandbox movement matched to one posting and back).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from attrs import define, field, frozen
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.chaos._events import SeenEvent

FINAL: Final = frozenset({"FAILED", "EXPIRED", "CANCELLED", "REFUNDED"})
NO_MONEY: Final = frozenset({"FAILED", "EXPIRED", "CANCELLED"})


@frozen
class LedgerRow:
    """One sandbox ledger entry."""

    provider: str
    kind: str  # debit, credit, refund
    msisdn: str
    amount_minor: int
    reference: str
    original_reference: str | None = None  # for refunds: the collection it reverses


@define
class Snapshot:
    """Everything the checks read, loaded once at the end of the run."""

    payments: dict[str, dict[str, Any]]
    attempts: dict[str, dict[str, Any]]  # reference -> row
    events: dict[str, list[dict[str, Any]]]  # payment id -> rows by seq
    outbox: list[dict[str, Any]]
    ledger: list[LedgerRow]


async def load_snapshot(
    engine: AsyncEngine,
    ledgers: Mapping[str, Sequence[Any]],
    originals: Mapping[str, Mapping[str, str]] | None = None,
) -> Snapshot:
    """Read payments, attempts, events and outbox rows; take the ledgers as given.

    `originals` maps, per provider, a refund's provider-side reference to the reference of
    the collection it reverses (AT books refunds under its own reference).
    """
    originals = originals or {}
    async with engine.connect() as conn:
        payments = {
            r["id"]: dict(r)
            for r in (
                await conn.execute(
                    text(
                        "SELECT id, merchant_id, state, amount_minor, refunded_minor FROM payments"
                    )
                )
            ).mappings()
        }
        attempts = {
            r["reference"]: dict(r)
            for r in (
                await conn.execute(
                    text(
                        "SELECT reference, payment_id, provider, kind, msisdn, amount_minor, "
                        "status FROM payment_attempts"
                    )
                )
            ).mappings()
        }
        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in (
            await conn.execute(
                text(
                    "SELECT payment_id, seq, type, data, at FROM payment_events ORDER BY payment_id, seq"
                )
            )
        ).mappings():
            events[r["payment_id"]].append(dict(r))
        outbox = [
            dict(r)
            for r in (
                await conn.execute(
                    text("SELECT id, payment_id, event_seq, type, published_at FROM outbox")
                )
            ).mappings()
        ]
    ledger = [
        LedgerRow(
            provider,
            str(e["kind"]),
            str(e["msisdn"]),
            int(e["amount_minor"]),
            str(e["reference"]),
            originals.get(provider, {}).get(str(e["reference"])),
        )
        for provider, entries in ledgers.items()
        for e in entries
    ]
    return Snapshot(payments, attempts, dict(events), outbox, ledger)


@define
class Findings:
    """The four figures, and one line of detail per problem found."""

    payments: int = 0
    lost: int = 0
    double_debits: int = 0
    mismatched: int = 0
    stuck: int = 0
    ledger_differences: int = 0  # what `synccash ledger verify` lists against the ledgers
    details: list[str] = field(factory=list)
    states: dict[str, int] = field(factory=dict)

    def problem(self, figure: str, detail: str) -> None:
        """Count one problem under `figure`."""
        setattr(self, figure, getattr(self, figure) + 1)
        self.details.append(f"{figure}: {detail}")

    @property
    def line(self) -> str:
        """The run's summary line."""
        return (
            f"chaos payments={self.payments} lost={self.lost} double_debits={self.double_debits} "
            f"mismatched={self.mismatched} stuck={self.stuck} "
            f"ledger_differences={self.ledger_differences}"
        )

    @property
    def clean(self) -> bool:
        """True when every figure is zero."""
        return not (
            self.lost
            or self.double_debits
            or self.mismatched
            or self.stuck
            or self.ledger_differences
        )


def check(snapshot: Snapshot, accepted: Iterable[str], seen: Sequence[SeenEvent]) -> Findings:
    """Every invariant of the run."""
    findings = Findings(payments=len(snapshot.payments))
    states: dict[str, int] = defaultdict(int)
    for payment in snapshot.payments.values():
        states[payment["state"]] += 1
    findings.states = dict(sorted(states.items()))
    for payment_id in accepted:
        if payment_id not in snapshot.payments:
            findings.problem("lost", f"accepted with 202 but not stored: {payment_id}")
    _check_money(snapshot, findings)
    _check_audit(snapshot, findings)
    _check_events(snapshot, seen, findings)
    return findings


def _check_money(snapshot: Snapshot, findings: Findings) -> None:
    by_payment: dict[str, list[tuple[dict[str, Any], LedgerRow]]] = defaultdict(list)
    # Some providers take our reference without its dashes (Telecel's clientreference).
    attempts = {_plain(ref): a for ref, a in snapshot.attempts.items()}
    for row in snapshot.ledger:
        attempt = attempts.get(_plain(row.reference))
        if attempt is None and row.kind != "debit" and row.original_reference is not None:
            original = attempts.get(_plain(row.original_reference))
            if original is not None:
                attempt = {**original, "kind": "refund"}  # a refund booked under its own id
        if attempt is None:
            findings.problem(
                "mismatched", f"{row.provider} {row.kind} {row.reference}: no payment asked for it"
            )
            continue
        if attempt["provider"] != row.provider:
            findings.problem(
                "mismatched",
                f"{row.reference}: booked at {row.provider}, sent to {attempt['provider']}",
            )
        by_payment[attempt["payment_id"]].append((attempt, row))
    open_refunds = {
        a["payment_id"]: f"{a['provider']} {a['status']}"
        for a in snapshot.attempts.values()
        if a["kind"] == "refund" and a["status"] not in ("succeeded", "failed")
    }
    for payment_id, payment in snapshot.payments.items():
        state, amount = payment["state"], payment["amount_minor"]
        moves = by_payment.get(payment_id, [])
        debits = [
            row for attempt, row in moves if row.kind == "debit" and attempt["kind"] == "collect"
        ]
        # A refund is booked as a refund (MTN, AT) or as a credit back to the payer (Telecel).
        refunds = [
            row
            for attempt, row in moves
            if row.kind in ("refund", "credit") and attempt["kind"] == "refund"
        ]
        debited = sum(d.amount_minor for d in debits)
        refunded = sum(r.amount_minor for r in refunds)
        where = f"{payment_id} {state}"
        if len(debits) > 1:
            findings.problem(
                "double_debits",
                f"{where}: {len(debits)} debits "
                + ", ".join(f"{d.provider}:{d.amount_minor}" for d in debits),
            )
        if state not in FINAL and state != "CONFIRMED":
            findings.problem("stuck", f"{where}: not terminal")
            continue
        if state == "CONFIRMED" and payment_id in open_refunds:
            findings.problem(
                "stuck", f"{where}: a refund is still open ({open_refunds[payment_id]})"
            )
        if state in NO_MONEY and debited - refunded != 0:
            findings.problem(
                "mismatched", f"{where}: net debit {debited - refunded} at the providers"
            )
        elif state in ("CONFIRMED", "REFUNDED"):
            if len(debits) != 1 or debits[0].amount_minor != amount:
                findings.problem(
                    "mismatched",
                    f"{where}: amount {amount} but debits {[d.amount_minor for d in debits]}",
                )
            if refunded != payment["refunded_minor"]:
                findings.problem(
                    "mismatched",
                    f"{where}: refunded {payment['refunded_minor']} recorded, {refunded} at the "
                    f"providers ({'+'.join(sorted({r.provider for r in refunds}))}; amount {amount}"
                    f"{'; refund open' if payment_id in open_refunds else ''})",
                )
            if state == "REFUNDED" and refunded != amount:
                findings.problem(
                    "mismatched", f"{where}: REFUNDED but {refunded} of {amount} refunded"
                )


def _plain(reference: str) -> str:
    return reference.replace("-", "").lower()


def _check_audit(snapshot: Snapshot, findings: Findings) -> None:
    for payment_id, payment in snapshot.payments.items():
        state: str | None = None
        for event in snapshot.events.get(payment_id, []):
            data = event["data"] or {}
            if isinstance(data, str):
                data = json.loads(data)
            if event["type"] == "payment.initiated":
                state = "INITIATED"
            elif "previous" in data and event["type"].startswith("payment."):
                if data["previous"] != state:
                    findings.problem(
                        "mismatched",
                        f"{payment_id}: event {event['seq']} moves from {data['previous']}, "
                        f"the trail was at {state}",
                    )
                state = data.get("state")
        if state != payment["state"]:
            findings.problem(
                "mismatched",
                f"{payment_id}: state {payment['state']} but the audit trail ends at {state}",
            )


def _check_events(snapshot: Snapshot, seen: Sequence[SeenEvent], findings: Findings) -> None:
    published: dict[str, SeenEvent] = {}
    for event in seen:
        first = published.setdefault(event.event_id, event)
        if (first.payment_id, first.type, first.data) != (event.payment_id, event.type, event.data):
            findings.problem(
                "mismatched", f"event id {event.event_id} carried two different events"
            )
    keys: dict[tuple[str, int], str] = {}
    for row in snapshot.outbox:
        key = (row["payment_id"], row["event_seq"])
        if key in keys:
            findings.problem(
                "mismatched", f"outbox rows {keys[key]} and {row['id']} for one event {key}"
            )
        keys[key] = row["id"]
        if row["id"] not in published:
            why = (
                "never published"
                if row["published_at"] is None
                else "marked published, not on the stream"
            )
            findings.problem(
                "lost", f"event {row['id']} ({row['type']} of {row['payment_id']}): {why}"
            )
    for payment_id, trail in snapshot.events.items():
        for row in trail:
            if (payment_id, row["seq"]) not in keys:
                findings.problem("lost", f"{payment_id} event {row['seq']} has no outbox row")
