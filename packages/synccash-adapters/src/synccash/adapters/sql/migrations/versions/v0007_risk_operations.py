"""risk_reviews (decisions on flagged payments) and risk_audit (who changed the risk set-up).

Both are append-only on PostgreSQL (a trigger refuses UPDATE/DELETE/TRUNCATE), like
payment_events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)
_TABLES = ("risk_reviews", "risk_audit")


def _pg_append_only(table: str) -> tuple[str, ...]:
    return (
        f"""CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$""",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()""",
    )


def upgrade() -> None:
    """Create both tables (and their append-only triggers on PostgreSQL)."""
    op.create_table(
        "risk_reviews",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_risk_reviews")),
    )
    op.create_table(
        "risk_audit",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("detail", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_audit")),
    )
    op.create_index("ix_risk_audit_at", "risk_audit", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            for statement in _pg_append_only(table):
                op.execute(statement)


def downgrade() -> None:
    """Drop both tables (and the trigger functions on PostgreSQL)."""
    op.drop_index("ix_risk_audit_at", table_name="risk_audit")
    op.drop_table("risk_audit")
    op.drop_table("risk_reviews")
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
