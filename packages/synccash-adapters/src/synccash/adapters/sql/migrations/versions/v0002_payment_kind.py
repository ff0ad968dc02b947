"""payments.kind: collection, transfer or payout (which legs a payment has).

Existing rows are collections (a wallet payee was a one-leg collection until now; the
lifecycle did not disburse to it), so the server default is 'collection' for them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add payments.kind, 'collection' for every existing payment."""
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="collection")
        )


def downgrade() -> None:
    """Drop payments.kind."""
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("kind")
