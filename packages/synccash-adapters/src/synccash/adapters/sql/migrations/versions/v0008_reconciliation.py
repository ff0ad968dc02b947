"""Reconciliation: staged provider statement lines, runs and their per-line/attempt results.

statement_lines is a staging table keyed by (provider, statement day, provider transaction id):
importing the same report twice inserts nothing. reconciliation_items keeps one row per line
or attempt of a run (key: run id + item key); a re-run updates the class and detail but keeps
an operator's resolution.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "statement_lines",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=128), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=128)),
        sa.Column("external_id", sa.String(length=128)),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("charges_minor", sa.BigInteger(), nullable=False),
        sa.Column("msisdn", sa.String(length=32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint(
            "provider", "statement_date", "provider_txn_id", name=op.f("pk_statement_lines")
        ),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("counts", JSON_DOC, nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("match_class", sa.String(length=24), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=128)),
        sa.Column("reference", sa.String(length=128)),
        sa.Column("payment_id", sa.String(length=64)),
        sa.Column("line_status", sa.String(length=16)),
        sa.Column("our_status", sa.String(length=16)),
        sa.Column("line_amount_minor", sa.BigInteger()),
        sa.Column("our_amount_minor", sa.BigInteger()),
        sa.Column("line_charges_minor", sa.BigInteger()),
        sa.Column("our_charges_minor", sa.BigInteger()),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_by", sa.String(length=128)),
        sa.Column("resolution_note", sa.Text()),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_reconciliation_items")),
    )
    op.create_index(
        "ix_reconciliation_items_class",
        "reconciliation_items",
        ["match_class", "resolved_at"],
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("ix_reconciliation_items_class", table_name="reconciliation_items")
    op.drop_table("reconciliation_items")
    op.drop_table("reconciliation_runs")
    op.drop_table("statement_lines")
