"""Per-merchant webhook endpoints; deliveries keep their exact body, endpoint and sequence.

Deliveries become idempotent per primary key (the deterministic uuid5 of event + URL, or event
+ endpoint), so the (outbox_id, url) unique constraint goes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types: a migration must not change when the models do.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create webhook_endpoints; add endpoint_id, seq and body to webhook_deliveries."""
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", JSON_DOC, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_expires_at", TS, nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_merchant", "webhook_endpoints", ["merchant_id"])
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("endpoint_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.drop_constraint("uq_webhook_deliveries_outbox_url", type_="unique")
    op.create_index(
        "ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "created_at"]
    )


def downgrade() -> None:
    """Drop the endpoint columns and table (endpoint deliveries go with them)."""
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.execute("DELETE FROM webhook_deliveries WHERE endpoint_id IS NOT NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.create_unique_constraint("uq_webhook_deliveries_outbox_url", ["outbox_id", "url"])
        batch.drop_column("body")
        batch.drop_column("seq")
        batch.drop_column("endpoint_id")
    op.drop_index("ix_webhook_endpoints_merchant", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
