"""Minimal reproduction of the log leak the chaos run found (real PostgreSQL).

During the chaos PostgreSQL restart, worker `task_failed` logs carried SQLAlchemy's
"[parameters: ('233508430344', …)]": the payer's full MSISDN. The engine keeps bound
parameters in its error messages (no `hide_parameters=True`), and the worker logs the
exception text unmasked. Fixed: make_engine sets hide_parameters=True.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from synccash.adapters.sql import make_engine
from synccash.chaos import scan_text

pytestmark = pytest.mark.integration

DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def test_a_database_error_does_not_carry_the_payers_msisdn():
    """The text of a failed statement about a payer holds no full MSISDN."""
    engine = make_engine(DATABASE_URL, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(
                    text("SELECT 1 / 0 WHERE CAST(:payer AS text) <> ''"),
                    {"payer": "233241234567"},
                )
    finally:
        await engine.dispose()
    assert scan_text(str(failed.value)) == []
