"""Provider statements: the daily transaction reports merchants download, parsed line by line.

Pure: each parser takes an iterable of text lines (a file object, a streamed HTTP body split
into lines) and yields one `StatementLine` per data row, so a 100,000-line report is never
held in memory. The formats (columns, time zone, amount format, references) are written
down, with what is assumed, in docs/reconciliation.md.

- MTN MoMo partner portal export: comma-separated, a header row, times in GMT (Ghana's
  civil time, UTC+0, no daylight saving), amounts as decimal GHS.
- AirtelTigo Money merchant report: semicolon-separated, dd/mm/yyyy times in GMT, amounts
  as decimal GHS.
- Telecel Cash through Hubtel (the merchant's Hubtel transaction export): comma-separated,
  ISO-8601 times with offset, decimal GHS, our reference as the ClientReference.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from attrs import frozen


class StatementError(ValueError):
    """A statement that cannot be read: names the data line (1 = the header)."""


class LineStatus(enum.StrEnum):
    """What the provider says happened to a transaction."""

    SUCCESS = "success"
    FAILED = "failed"
    PENDING = "pending"


class LineKind(enum.StrEnum):
    """Which way the money went."""

    COLLECTION = "collection"
    DISBURSEMENT = "disbursement"
    REFUND = "refund"


@frozen
class StatementLine:
    """One row of a provider's report, in our terms (amounts in pesewas)."""

    provider: str
    line_no: int
    provider_txn_id: str
    reference: str | None  # our attempt reference as the provider echoes it
    external_id: str | None  # our payment id, where the provider carries one (MTN externalId)
    kind: LineKind
    status: LineStatus
    amount_minor: int
    charges_minor: int
    msisdn: str
    at: datetime


def parse_minor(text: str) -> int:
    """Decimal GHS text ("1,250.50", "12", "0.5") to pesewas, without floats."""
    clean = text.strip().replace(",", "")
    units, dot, frac = clean.partition(".")
    if not clean:
        raise ValueError(f"not an amount: {text!r}")
    if not units:
        units = "0"
    if not (units.isascii() and units.isdigit()) or (
        dot and not (frac.isascii() and frac.isdigit() and len(frac) <= 2)
    ):
        raise ValueError(f"not an amount: {text!r}")
    return int(units) * 100 + int(frac.ljust(2, "0") if dot else "0")


def format_minor(minor: int) -> str:
    """Pesewas to the reports' decimal GHS text ("12.50")."""
    units, cents = divmod(minor, 100)
    return f"{units}.{cents:02d}"


Row = Mapping[str, str]
T = TypeVar("T")
RowParser = Callable[[Row, int], StatementLine]

_MTN_TYPES = {
    "DEBIT": LineKind.COLLECTION,
    "TRANSFER": LineKind.DISBURSEMENT,
    "REFUND": LineKind.REFUND,
}
_MTN_STATUS = {
    "SUCCESSFUL": LineStatus.SUCCESS,
    "FAILED": LineStatus.FAILED,
    "PENDING": LineStatus.PENDING,
}
_AT_TYPES = {
    "MERCHPAY": LineKind.COLLECTION,
    "CASHOUT": LineKind.COLLECTION,
    "B2C": LineKind.DISBURSEMENT,
    "REFUND": LineKind.REFUND,
}
_AT_STATUS = {"TS": LineStatus.SUCCESS, "TF": LineStatus.FAILED, "TA": LineStatus.PENDING}
_HUBTEL_TYPES = {
    "RECEIVE MONEY": LineKind.COLLECTION,
    "SEND MONEY": LineKind.DISBURSEMENT,
    "REFUND": LineKind.REFUND,
}
_HUBTEL_STATUS = {
    "SUCCESS": LineStatus.SUCCESS,
    "FAILED": LineStatus.FAILED,
    "PENDING": LineStatus.PENDING,
}

#: Each provider's header row, in order (the renderers in the sandboxes write the same).
MTN_COLUMNS = (
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
)
AIRTELTIGO_COLUMNS = (
    "TXN_ID",
    "TXN_DATE",
    "SERVICE_TYPE",
    "EXT_TXN_ID",
    "MSISDN",
    "AMOUNT",
    "FEE",
    "TXN_STATUS",
)
TELECEL_COLUMNS = (
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
)


def _pick(table: Mapping[str, T], value: str, what: str) -> T:
    found = table.get(value.strip().upper())
    if found is None:
        raise ValueError(f"unknown {what} {value!r}")
    return found


def _blank(value: str) -> str | None:
    return value.strip() or None


def _mtn(row: Row, line_no: int) -> StatementLine:
    kind = _pick(_MTN_TYPES, row["Type"], "Type")
    party = row["From"] if kind is LineKind.COLLECTION else row["To"]
    return StatementLine(
        "mtn",
        line_no,
        row["Id"].strip(),
        _blank(row["Reference"]),
        _blank(row["External Transaction Id"]),
        kind,
        _pick(_MTN_STATUS, row["Status"], "Status"),
        parse_minor(row["Amount"]),
        parse_minor(row["Fee"] or "0"),
        party.strip().removeprefix("FRI:").split("/")[0],
        datetime.strptime(row["Date"].strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
    )


def _airteltigo(row: Row, line_no: int) -> StatementLine:
    return StatementLine(
        "airteltigo",
        line_no,
        row["TXN_ID"].strip(),
        _blank(row["EXT_TXN_ID"]),
        None,
        _pick(_AT_TYPES, row["SERVICE_TYPE"], "SERVICE_TYPE"),
        _pick(_AT_STATUS, row["TXN_STATUS"], "TXN_STATUS"),
        parse_minor(row["AMOUNT"]),
        parse_minor(row["FEE"] or "0"),
        row["MSISDN"].strip(),
        datetime.strptime(row["TXN_DATE"].strip(), "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC),
    )


def _telecel(row: Row, line_no: int) -> StatementLine:
    at = datetime.fromisoformat(row["Date"].strip())
    if at.tzinfo is None:
        raise ValueError(f"Date without an offset: {row['Date']!r}")
    return StatementLine(
        "telecel",
        line_no,
        row["Transaction Id"].strip(),
        _blank(row["Client Reference"]),
        None,
        _pick(_HUBTEL_TYPES, row["Type"], "Type"),
        _pick(_HUBTEL_STATUS, row["Status"], "Status"),
        parse_minor(row["Amount"]),
        parse_minor(row["Charges"] or "0"),
        row["Customer Number"].strip(),
        at.astimezone(UTC),
    )


_FORMATS: dict[str, tuple[tuple[str, ...], str, RowParser]] = {
    "mtn": (MTN_COLUMNS, ",", _mtn),
    "airteltigo": (AIRTELTIGO_COLUMNS, ";", _airteltigo),
    "telecel": (TELECEL_COLUMNS, ",", _telecel),
}


def statement_format(provider: str) -> tuple[tuple[str, ...], str]:
    """A provider's report columns and delimiter (for writers and tests)."""
    columns, delimiter, _ = _FORMATS[provider]
    return columns, delimiter


def parse_statement(provider: str, lines: Iterable[str]) -> Iterator[StatementLine]:
    """Yield the report's rows one by one; a bad row raises `StatementError` with its line."""
    if provider not in _FORMATS:
        raise StatementError(f"no statement format for provider {provider!r}")
    columns, delimiter, parse_row = _FORMATS[provider]
    reader = csv.reader((line.lstrip("\ufeff") for line in lines), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise StatementError("line 1: empty statement (no header row)")
    missing = [c for c in columns if c not in [h.strip() for h in header]]
    if missing:
        raise StatementError(f"line 1: missing column(s) {missing} for {provider}")
    names = [h.strip() for h in header]
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(names):
            raise StatementError(f"line {line_no}: {len(values)} fields, header has {len(names)}")
        try:
            yield parse_row(dict(zip(names, values, strict=True)), line_no)
        except (ValueError, KeyError) as exc:
            raise StatementError(f"line {line_no}: {exc}") from None
