"""Initial schema: payments, attempts, the append-only audit trail, outbox, webhooks, blocklist.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types: a migration must not change when the models do.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)
FINAL = "('FAILED', 'EXPIRED', 'CANCELLED', 'REFUNDED')"
DUE_WHERE = f"next_action_at IS NOT NULL AND state NOT IN {FINAL}"

_PG_APPEND_ONLY = (
    """CREATE FUNCTION payment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'payment_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$""",
    """CREATE TRIGGER payment_events_append_only
    BEFORE UPDATE OR DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION payment_events_append_only()""",
    """CREATE TRIGGER payment_events_no_truncate
    BEFORE TRUNCATE ON payment_events
    FOR EACH STATEMENT EXECUTE FUNCTION payment_events_append_only()""",
)

_SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER payment_events_no_update BEFORE UPDATE ON payment_events
    BEGIN SELECT RAISE(ABORT, 'payment_events is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER payment_events_no_delete BEFORE DELETE ON payment_events
    BEGIN SELECT RAISE(ABORT, 'payment_events is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    """Create every table, index and the audit-trail triggers."""
    op.create_table(
        "blocklist",
        sa.Column("msisdn", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_blocklist")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payer", sa.String(length=16), nullable=False),
        sa.Column("payee_msisdn", sa.String(length=16), nullable=True),
        sa.Column("payee_account", sa.String(length=128), nullable=True),
        sa.Column("payee_key", sa.String(length=160), nullable=False),
        sa.Column("wallets", JSON_DOC, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("metadata", JSON_DOC, nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("reached_provider", sa.Boolean(), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("route", JSON_DOC, nullable=False),
        sa.Column("routing", JSON_DOC, nullable=True),
        sa.Column("risk", JSON_DOC, nullable=True),
        sa.Column("fee_quote", JSON_DOC, nullable=True),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("flagged_for_review", sa.Boolean(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("next_action_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "merchant_id", "idempotency_key", name="uq_payments_merchant_idempotency"
        ),
    )
    op.create_index(
        "ix_payments_due",
        "payments",
        ["next_action_at"],
        unique=False,
        postgresql_where=sa.text(DUE_WHERE),
        sqlite_where=sa.text(DUE_WHERE),
    )
    op.create_index(
        "ix_payments_merchant_created",
        "payments",
        ["merchant_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index("ix_payments_payee_created", "payments", ["payee_key", "created_at"])
    op.create_index("ix_payments_payer_created", "payments", ["payer", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("outbox_id", sa.String(length=36), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("outbox_id", "url", name="uq_webhook_deliveries_outbox_url"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_transaction_id", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("submit_count", sa.Integer(), nullable=False),
        sa.Column("poll_count", sa.Integer(), nullable=False),
        sa.Column("original_reference", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_attempts_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint("payment_id", "seq", name="uq_payment_attempts_payment_seq"),
    )
    op.create_index(
        "ix_payment_attempts_msisdn_created", "payment_attempts", ["msisdn", "created_at"]
    )
    op.create_table(
        "payment_events",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_events_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("payment_id", "seq", name="pk_payment_events"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything (the audit trail too: only for development and CI)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS payment_events_no_truncate ON payment_events")
        op.execute("DROP TRIGGER IF EXISTS payment_events_append_only ON payment_events")
        op.execute("DROP FUNCTION IF EXISTS payment_events_append_only()")
    op.drop_table("payment_events")
    op.drop_index("ix_payment_attempts_msisdn_created", table_name="payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_payments_payer_created", table_name="payments")
    op.drop_index("ix_payments_payee_created", table_name="payments")
    op.drop_index("ix_payments_merchant_created", table_name="payments")
    op.drop_index("ix_payments_due", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("blocklist")
