"""structlog output is masked JSON with plain tracebacks (no local variables)."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from synccash.adapters.logs import configure_structlog


@pytest.fixture(autouse=True)
def _reset_structlog() -> object:
    """Leave structlog as the other tests found it."""
    yield
    structlog.reset_defaults()


def _fail_with_a_number() -> None:
    payer = "0241234567"  # a local variable: rich tracebacks would print it
    msg = f"provider refused {payer}"
    raise RuntimeError(msg)


def test_a_failure_with_a_traceback_is_one_masked_json_line() -> None:
    """The MSISDN in the message and the traceback is masked; no local variable is printed."""
    configure_structlog("INFO", "json")
    out = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    try:
        _fail_with_a_number()
    except RuntimeError as exc:
        structlog.get_logger("t").warning("component_failing", cause=str(exc), exc_info=exc)
    line = out.getvalue().strip()
    record = json.loads(line)
    assert record["event"] == "component_failing"
    assert record["cause"] == "provider refused 23324****567"
    assert "Traceback" in record["exception"]
    assert "0241234567" not in line
    assert "payer =" not in record["exception"]


def test_console_format_masks_too() -> None:
    """The readable console format masks the same way."""
    configure_structlog("INFO", "console")
    out = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    structlog.get_logger("t").info("payment", payer="233241234567")
    assert "23324****567" in out.getvalue()
    assert "233241234567" not in out.getvalue()
