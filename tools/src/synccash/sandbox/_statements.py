"""The daily transaction report each provider gives merchants, rendered from a sandbox.

The shapes are those described in docs/reconciliation.md (what is assumed is marked
there); the sandboxes stand alone, so the columns are spelled out here again rather than
imported from SyncCash's parsers. One row per accepted request resolved (or, if still
pending, created) on the day, oldest first; times in UTC (Ghana's civil time).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime

from synccash.sandbox._sandbox import Attempt, ProviderSandbox


def _ghs(minor: int) -> str:
    units, cents = divmod(minor, 100)
    return f"{units}.{cents:02d}"


def _when(attempt: Attempt) -> datetime:
    seconds = attempt.resolved_at if attempt.resolved_at is not None else attempt.created_at
    return datetime.fromtimestamp(seconds, UTC)


def _mtn_row(attempt: Attempt) -> list[str]:
    kind = {"collection": "DEBIT", "disbursement": "TRANSFER", "refund": "REFUND"}[attempt.kind]
    status = {"success": "SUCCESSFUL", "failed": "FAILED", "pending": "PENDING"}[attempt.status]
    party = f"FRI:{attempt.msisdn}/MSISDN"
    merchant = "FRI:synccash.sp/USER"
    payer, payee = (party, merchant) if attempt.kind == "collection" else (merchant, party)
    return [
        attempt.provider_txn_id,
        str(attempt.request.get("externalId") or ""),
        _when(attempt).strftime("%Y-%m-%d %H:%M:%S"),
        status,
        kind,
        payer,
        payee,
        _ghs(attempt.amount_minor),
        attempt.currency,
        _ghs(attempt.charges_minor if attempt.status == "success" else 0),
        attempt.currency,
        attempt.reference,
    ]


def _airteltigo_row(attempt: Attempt) -> list[str]:
    kind = {"collection": "MERCHPAY", "disbursement": "B2C", "refund": "REFUND"}[attempt.kind]
    status = {"success": "TS", "failed": "TF", "pending": "TA"}[attempt.status]
    return [
        attempt.provider_txn_id,
        _when(attempt).strftime("%d/%m/%Y %H:%M:%S"),
        kind,
        attempt.reference,
        attempt.msisdn,
        _ghs(attempt.amount_minor),
        _ghs(attempt.charges_minor if attempt.status == "success" else 0),
        status,
    ]


def _telecel_row(attempt: Attempt) -> list[str]:
    kind = {"collection": "Receive Money", "disbursement": "Send Money", "refund": "Refund"}
    status = {"success": "Success", "failed": "Failed", "pending": "Pending"}[attempt.status]
    charges = attempt.charges_minor if attempt.status == "success" else 0
    return [
        _when(attempt).isoformat(timespec="seconds"),
        attempt.provider_txn_id,
        attempt.reference.replace("-", ""),
        kind[attempt.kind],
        attempt.msisdn,
        "telecel-gh",
        _ghs(attempt.amount_minor),
        _ghs(charges),
        _ghs(attempt.amount_minor - charges),
        status,
    ]


_FORMATS = {
    "mtn": (
        ",",
        (
            "Id",
            "External Transaction Id",
            "Date",
            "Status",
            "Type",
            "From",
            "To",
            "Amount",
            "Currency",
            "Fee",
            "Fee Currency",
            "Reference",
        ),
        _mtn_row,
    ),
    "airteltigo": (
        ";",
        (
            "TXN_ID",
            "TXN_DATE",
            "SERVICE_TYPE",
            "EXT_TXN_ID",
            "MSISDN",
            "AMOUNT",
            "FEE",
            "TXN_STATUS",
        ),
        _airteltigo_row,
    ),
    "telecel": (
        ",",
        (
            "Date",
            "Transaction Id",
            "Client Reference",
            "Type",
            "Customer Number",
            "Channel",
            "Amount",
            "Charges",
            "Amount After Charges",
            "Status",
        ),
        _telecel_row,
    ),
}


def statement_rows(sandbox: ProviderSandbox, day: date) -> Iterator[str]:
    """The day's report as CSV text, one line at a time (header first)."""
    delimiter, header, row = _FORMATS[sandbox.provider]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")

    def take(values: list[str]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield take(list(header))
    for attempt in sandbox.transactions:
        if _when(attempt).date() == day:
            yield take(row(attempt))


def statement_csv(sandbox: ProviderSandbox, day: date) -> str:
    """The whole report for one day."""
    return "".join(statement_rows(sandbox, day))
