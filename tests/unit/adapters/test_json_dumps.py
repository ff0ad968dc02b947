"""The JSON columns' serializer writes exactly what json.dumps would, with our defaults."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.adapters.sql._types import _json_default, dumps


class _Colour(enum.StrEnum):
    RED = "red"


def _reference(value: object) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))]))
    | st.just(_Colour.RED)
    | st.decimals(allow_nan=False, allow_infinity=False)
)
_docs = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_docs)
def test_dumps_is_json_dumps_with_our_defaults(doc: object) -> None:
    """Same text for any document: nesting, non-ASCII, NaN, datetimes, enums, decimals."""
    assert dumps(doc) == _reference(doc)


def test_dumps_known_text() -> None:
    """A concrete document, as stored."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    doc = {"at": at, "amount": Decimal("12.50"), "tags": ("a", "é"), "colour": _Colour.RED}
    assert dumps(doc) == (
        '{"at":"2026-01-02T03:04:05+00:00","amount":"12.50","tags":["a","\\u00e9"],"colour":"red"}'
    )


def test_dumps_refuses_what_json_cannot_store() -> None:
    """An object the default hook does not know is an error, as before."""
    with pytest.raises(TypeError, match="cannot store"):
        dumps({"x": object()})
