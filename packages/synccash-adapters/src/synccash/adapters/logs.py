"""One logging configuration for every process: masked JSON lines (or a readable console).

The API's own request log is stdlib logging with `JsonLogFormatter` (synccash.api); the
adapters, the worker and the CLI's servers log through structlog. Both mask MSISDNs
(23324****567) and bearer tokens in every string, tracebacks included, and tracebacks are
plain text: structlog's default console renderer (rich) prints local variables, which would
put whole phone numbers and secrets in the logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Final

import structlog

# A Ghana mobile number in any of its usual spellings (233XXXXXXXXX, +233…, 0XXXXXXXXX).
_MSISDN_RE: Final = re.compile(r"(?<!\d)(?:\+?233|0)([25]\d)(\d{4})(\d{3})(?!\d)")
_SECRET_RE: Final = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Every MSISDN spelling above holds 10+ digits in a row; one search of this rules out both
# patterns for the common text that has neither (most log strings), at a third of the cost.
_SUSPECT_RE: Final = re.compile(r"(?i)\d{10}|bearer\s")


def mask(text: str) -> str:
    """Mask MSISDNs (23324****567) and bearer tokens in free text."""
    if _SUSPECT_RE.search(text) is None:
        return text
    text = _MSISDN_RE.sub(lambda m: f"233{m.group(1)}****{m.group(3)}", text)
    return _SECRET_RE.sub(r"\1[redacted]", text)


def mask_value(value: Any) -> Any:
    """Mask every string inside a JSON-like value."""
    kind = type(value)
    if kind is str:
        return mask(value)
    if kind is int or kind is float or value is None:  # the usual fields, before the ABC checks
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Mapping):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return value


def _mask_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: mask every string of the event (after tracebacks are rendered)."""
    return {key: mask_value(value) for key, value in event.items()}


def configure_structlog(level: str = "INFO", log_format: str = "json") -> None:
    """structlog to stdout: masked JSON lines, or a readable console without local variables."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: Sequence[structlog.types.Processor] = (
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,  # plain text, no locals
        _mask_event,
        renderer,
    )
    structlog.configure(
        processors=list(processors),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        cache_logger_on_first_use=False,
    )
