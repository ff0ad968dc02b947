"""payment_attempts.provider_charges_minor: what the provider charged for an attempt.

Hubtel (the Telecel adapter's shape) reports `Charges` / `AmountAfterCharges` on every
answer; the charge is kept in pesewas on the attempt so the books can match the
provider's settlement. NULL = the provider did not say (every existing row).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add payment_attempts.provider_charges_minor (nullable)."""
    with op.batch_alter_table("payment_attempts") as batch:
        batch.add_column(sa.Column("provider_charges_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop payment_attempts.provider_charges_minor."""
    with op.batch_alter_table("payment_attempts") as batch:
        batch.drop_column("provider_charges_minor")
