"""Alembic environment: runs on the connection `synccash.adapters.sql.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from synccash.adapters.sql._tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: future migrations get copy-and-move batches
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise TypeError(
        "run migrations through `synccash migrate` (synccash.adapters.sql.migrate), "
        "which provides the database connection"
    )
_run(_connection)
