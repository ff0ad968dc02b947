"""Provider statement parsers: each provider's report shape, read line by line."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.statements import (
    LineKind,
    LineStatus,
    StatementError,
    format_minor,
    parse_minor,
    parse_statement,
)

MTN = (
    "Id,External Transaction Id,Date,Status,Type,From,To,Amount,Currency,Fee,Fee Currency,"
    "Reference\n"
    "1000000001,pay_1,2026-12-08 10:15:30,SUCCESSFUL,DEBIT,FRI:233241234567/MSISDN,"
    "FRI:synccash.sp/USER,12.50,GHS,0.13,GHS,ref-1\n"
)
AIRTELTIGO = (
    "TXN_ID;TXN_DATE;SERVICE_TYPE;EXT_TXN_ID;MSISDN;AMOUNT;FEE;TXN_STATUS\n"
    "MP2612081;08/12/2026 23:59:59;MERCHPAY;ref-2;233271234567;1,250.00;0.00;TF\n"
)
TELECEL = (
    "Date,Transaction Id,Client Reference,Type,Customer Number,Channel,Amount,Charges,"
    "Amount After Charges,Status\n"
    "2026-12-08T09:00:00+00:00,abc123,ref3,Send Money,233201234567,telecel-gh,5,0.05,4.95,"
    "Success\n"
)


def test_mtn_line_is_read_in_pesewas_and_utc() -> None:
    """An MTN row gives its ids, kind, status, pesewas and a UTC time."""
    (line,) = parse_statement("mtn", MTN.splitlines(keepends=True))
    assert (line.provider_txn_id, line.external_id, line.reference) == (
        "1000000001",
        "pay_1",
        "ref-1",
    )
    assert (line.kind, line.status) == (LineKind.COLLECTION, LineStatus.SUCCESS)
    assert (line.amount_minor, line.charges_minor, line.msisdn) == (1250, 13, "233241234567")
    assert datetime(2026, 12, 8, 10, 15, 30, tzinfo=UTC) == line.at


def test_airteltigo_semicolons_day_first_and_thousands() -> None:
    """AirtelTigo's report is semicolon-separated, dd/mm/yyyy, with thousands separators."""
    (line,) = parse_statement("airteltigo", AIRTELTIGO.splitlines())
    assert (line.status, line.amount_minor) == (LineStatus.FAILED, 125_000)
    assert datetime(2026, 12, 8, 23, 59, 59, tzinfo=UTC) == line.at


def test_telecel_reference_without_dashes_and_offset_time() -> None:
    """The Hubtel export names a disbursement Send Money and carries an offset time."""
    (line,) = parse_statement("telecel", TELECEL.splitlines())
    assert (
        line.kind,
        line.reference,
        line.amount_minor,
        line.charges_minor,
    ) == (LineKind.DISBURSEMENT, "ref3", 500, 5)


def test_bad_amount_names_its_line() -> None:
    """A row with an amount that is not decimal GHS fails with its line number."""
    bad = MTN.replace("12.50", "12.505")
    with pytest.raises(StatementError, match="line 2"):
        list(parse_statement("mtn", bad.splitlines()))


def test_missing_column_is_refused() -> None:
    """A header without a required column is refused on line 1."""
    with pytest.raises(StatementError, match="line 1: missing"):
        list(parse_statement("telecel", ["Date,Status\n"]))


def test_unknown_provider_is_refused() -> None:
    """Only the three providers have a statement format."""
    with pytest.raises(StatementError, match="no statement format"):
        list(parse_statement("paystack", []))


def test_the_parser_streams() -> None:
    """Rows come out before the input is exhausted (no whole-file load)."""
    header, row = MTN.splitlines()

    def lines() -> object:
        yield header
        yield row
        raise AssertionError("read past the first row")

    first = next(parse_statement("mtn", lines()))  # type: ignore[arg-type]
    assert first.provider_txn_id == "1000000001"


@given(st.integers(min_value=0, max_value=10**12))
def test_amount_text_round_trips(minor: int) -> None:
    """format_minor and parse_minor are inverse on every non-negative amount."""
    assert minor == parse_minor(format_minor(minor))


@pytest.mark.parametrize("text", ["", "abc", "-1.00", "1.234", "1e3", "١٢"])
def test_not_an_amount(text: str) -> None:
    """Anything but plain decimal GHS is refused."""
    with pytest.raises(ValueError, match="not an amount"):
        parse_minor(text)
