"""Input screening before any handler runs: bytes and characters no field may hold.

Litestar and msgspec check the shape of a request; this module checks what they let
through and what storage cannot hold (PostgreSQL text refuses NUL) or what changes the
meaning of a request:

- a JSON body must be UTF-8 (400 `invalid_utf8`) and must not repeat a key in one object
  (422 `duplicate_json_key`: `{"amount":"1.00","amount":"20000.00"}` is refused instead
  of charging the last one);
- no string anywhere (keys, values, path parameters, query parameters) may hold a control
  character (C0, DEL, C1) or a lone surrogate; only `description` and `metadata` may hold
  tab, line feed and carriage return (422 `invalid_character` in a body, 400 in the
  request line).

Routes whose `opt` sets `RAW_INPUT` (provider callbacks, answered 200 whatever arrives)
are not screened here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from litestar import Request

from synccash.api.problems import FieldProblem, RequestProblem

#: Route `opt` key: the handler takes raw bytes and must answer them itself.
RAW_INPUT: Final = "synccash_raw_input"
#: Top-level body fields that are free text (tab and line breaks allowed).
FREE_TEXT: Final = frozenset({"description", "metadata"})
_METHODS_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})
_FORBIDDEN: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_IN_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CHARACTER_MESSAGE: Final = "control characters (such as NUL) are not allowed"


#: Dates and instants outside these (UTC) days are refused: 422 `parameter_out_of_range`.
EARLIEST_DAY: Final = date(1970, 1, 1)
LATEST_DAY: Final = date(9998, 12, 31)
#: Real time zones are within UTC-12 and UTC+14.
MAX_UTC_OFFSET: Final = timedelta(hours=14)


def has_forbidden_character(text: str) -> bool:
    """True when `text` holds a control character or a lone surrogate."""
    return _FORBIDDEN.search(text) is not None


def _out_of_range(name: str, message: str) -> RequestProblem:
    return RequestProblem(
        422,
        "parameter_out_of_range",
        f"{name} is out of range",
        errors=[FieldProblem(field=name, message=message, source="query")],
    )


def bounded_day(name: str, day: date) -> date:
    """`day` if it is between 1970-01-01 and 9998-12-31, else 422 `parameter_out_of_range`."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _out_of_range(name, f"expected a day from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


def bounded_instant(name: str, value: datetime) -> datetime:
    """`value` in UTC (naive means UTC) if its offset and day are in range, else 422."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise _out_of_range(name, "the UTC offset must be within -14:00 and +14:00")
    aware = value if offset is not None else value.replace(tzinfo=UTC)
    try:
        in_utc = aware.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(
            name, f"expected an instant from {EARLIEST_DAY} to {LATEST_DAY}"
        ) from None
    bounded_day(name, in_utc.date())
    return in_utc


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # C speed; the slow search below runs only for a duplicate
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


#: Built once: `json.loads(..., object_pairs_hook=...)` builds a decoder per call (~6 us).
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_unique_object)
#: Outside strings JSON allows only tab, LF, CR and space; inside strings a control
#: character must be escaped, so a body with no backslash and none of these raw
#: characters holds no forbidden character anywhere (the walk is skipped).
_FORBIDDEN_RAW: Final = _FORBIDDEN_IN_TEXT


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (field path, string) in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            yield child, key
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def forbidden_character_field(document: Any) -> str | None:
    """The first field of a decoded body holding a character no field may hold, if any."""
    for path, text in _strings(document, ""):
        top = path.split(".", 1)[0].split("[", 1)[0]
        pattern = _FORBIDDEN_IN_TEXT if top in FREE_TEXT else _FORBIDDEN
        if pattern.search(text) is not None:
            return path
    return None


def screen_body(body: bytes) -> None:
    """Refuse a JSON body that is not UTF-8, repeats a key or holds control characters.

    Malformed JSON is left to the framework's decoder (400 `malformed_json`).
    """
    if not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestProblem(400, "invalid_utf8", "the request body is not valid UTF-8") from None
    try:
        document = _DECODER.decode(text)
    except DuplicateKey as exc:
        raise RequestProblem(
            422,
            "duplicate_json_key",
            f"the key {exc.key!r} appears more than once in one JSON object",
            errors=[FieldProblem(field=exc.key, message="duplicate key")],
        ) from None
    except (ValueError, RecursionError):
        return  # not JSON: the decoder answers malformed_json
    if "\\" not in text and _FORBIDDEN_RAW.search(text) is None:
        return
    field = forbidden_character_field(document)
    if field is not None:
        raise RequestProblem(
            422,
            "invalid_character",
            "the request body holds a control character",
            errors=[FieldProblem(field=field, message=_CHARACTER_MESSAGE)],
        )


def screen_parameters(request: Request[Any, Any, Any]) -> None:
    """Refuse control characters in path and query parameters (400 `invalid_character`)."""
    problems = [
        FieldProblem(field=name, message=_CHARACTER_MESSAGE, source="path")
        for name, value in request.path_params.items()
        if isinstance(value, str) and _FORBIDDEN.search(value) is not None
    ]
    problems += [
        FieldProblem(field=name, message=_CHARACTER_MESSAGE, source="query")
        for name, value in request.query_params.multi_items()
        if _FORBIDDEN.search(name) is not None or _FORBIDDEN.search(value) is not None
    ]
    if problems:
        raise RequestProblem(
            400, "invalid_character", "a parameter holds a control character", errors=problems
        )


async def screen(request: Request[Any, Any, Any]) -> None:
    """Screen one request (parameters, then a JSON body) unless its route takes raw input."""
    if request.route_handler.opt.get(RAW_INPUT):
        return
    screen_parameters(request)
    if request.method in _METHODS_WITH_BODY:
        screen_body(await request.body())


__all__ = [
    "EARLIEST_DAY",
    "FREE_TEXT",
    "LATEST_DAY",
    "MAX_UTC_OFFSET",
    "RAW_INPUT",
    "bounded_day",
    "bounded_instant",
    "forbidden_character_field",
    "has_forbidden_character",
    "screen",
    "screen_body",
    "screen_parameters",
]
