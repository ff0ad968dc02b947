"""The double-entry ledger: entries, postings, guarded balances, and the rules as triggers.

The database enforces, whatever code or raw SQL writes:
- every entry balances (its postings sum to 0 per currency);
- postings and entries are append-only (no UPDATE, DELETE or TRUNCATE);
- guarded accounts (`merchant:*:available`, `provider:*:float`) never go below 0 on their
  normal side (credit for a merchant, debit for a float): their balance is kept in
  ledger_balances by a trigger on each posting and checked.

PostgreSQL: a posting's entry and the guarded balances it touched are checked by
DEFERRABLE INITIALLY DEFERRED constraint triggers, i.e. at commit (a lone statement: at
its end), so an entry's postings, or a hold and its release, may go in any order.
Overdraft: SQLSTATE SC001 ("ledger_overdraft"); unbalanced entry: SC002.

SQLite has no deferred triggers. Its entry row is the closing row: a writer inserts every
posting of a save first, then the entry rows; the entry row's AFTER INSERT trigger checks
that its postings balance and that no guarded account they touch is below 0; a posting for
an entry already written is refused; a posting without its entry fails the deferred foreign
key at commit. So an entry exists only if it balanced when it was closed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from synccash.adapters.sql._types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_GUARDED = "(NEW.account LIKE 'merchant:%:available' OR NEW.account LIKE 'provider:%:float')"
#: Debit-normal accounts are SyncCash's own wallets at a provider; the rest are credit-normal.
_NORMAL = "CASE WHEN NEW.account LIKE 'provider:%' THEN NEW.amount_minor ELSE -NEW.amount_minor END"

_PG = (
    """CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$""",
    *(
        statement
        for table in ("ledger_postings", "ledger_entries")
        for statement in (
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()""",
        )
    ),
    """CREATE FUNCTION ledger_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        off record;
    BEGIN
        SELECT currency, sum(amount_minor) AS total INTO off FROM ledger_postings
        WHERE reference = NEW.reference AND kind = NEW.kind
        GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger_unbalanced: entry (%, %) sums to % %',
                NEW.reference, NEW.kind, off.total, off.currency USING ERRCODE = 'SC002';
        END IF;
        RETURN NULL;
    END;
    $$""",
    """CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balances()""",
    f"""CREATE FUNCTION ledger_track_guarded() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO ledger_balances AS b (account, currency, balance_minor)
        VALUES (NEW.account, NEW.currency, {_NORMAL})
        ON CONFLICT (account, currency)
        DO UPDATE SET balance_minor = b.balance_minor + EXCLUDED.balance_minor;
        RETURN NULL;
    END;
    $$""",  # noqa: S608  (constant SQL of this module)
    f"""CREATE TRIGGER ledger_postings_guarded AFTER INSERT ON ledger_postings
    FOR EACH ROW WHEN {_GUARDED} EXECUTE FUNCTION ledger_track_guarded()""",
    """CREATE FUNCTION ledger_not_overdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        now_minor bigint;
    BEGIN
        SELECT balance_minor INTO now_minor FROM ledger_balances
        WHERE account = NEW.account AND currency = NEW.currency;
        IF now_minor < 0 THEN
            RAISE EXCEPTION 'ledger_overdraft: % would be % %',
                NEW.account, now_minor, NEW.currency USING ERRCODE = 'SC001';
        END IF;
        RETURN NULL;
    END;
    $$""",
    """CREATE CONSTRAINT TRIGGER ledger_balances_not_negative
    AFTER INSERT OR UPDATE ON ledger_balances
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_not_overdrawn()""",
    # the balances are the postings' sums: only the posting trigger may change them
    """CREATE TRIGGER ledger_balances_derived BEFORE UPDATE OR DELETE ON ledger_balances
    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION ledger_append_only()""",
)

_SQLITE = (
    *(
        f"""CREATE TRIGGER {table}_no_{op_} BEFORE {op_.upper()} ON {table}
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {op_.upper()} refused'); END"""
        for table in ("ledger_postings", "ledger_entries")
        for op_ in ("update", "delete")
    ),
    """CREATE TRIGGER ledger_postings_closed BEFORE INSERT ON ledger_postings
    WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE reference = NEW.reference AND kind = NEW.kind)
    BEGIN SELECT RAISE(ABORT, 'ledger_closed: a posting cannot join an entry already written');
    END""",
    f"""CREATE TRIGGER ledger_postings_guarded AFTER INSERT ON ledger_postings
    WHEN {_GUARDED}
    BEGIN
        INSERT OR IGNORE INTO ledger_balances (account, currency, balance_minor)
        VALUES (NEW.account, NEW.currency, 0);
        UPDATE ledger_balances SET balance_minor = balance_minor + {_NORMAL}
        WHERE account = NEW.account AND currency = NEW.currency;
    END""",  # noqa: S608  (constant SQL of this module)
    """CREATE TRIGGER ledger_entries_closed AFTER INSERT ON ledger_entries
    BEGIN
        SELECT RAISE(ABORT, 'ledger_unbalanced: the entry''s postings do not sum to zero')
        WHERE NOT EXISTS (
            SELECT 1 FROM ledger_postings WHERE reference = NEW.reference AND kind = NEW.kind
        ) OR EXISTS (
            SELECT 1 FROM ledger_postings WHERE reference = NEW.reference AND kind = NEW.kind
            GROUP BY currency HAVING sum(amount_minor) <> 0
        );
        SELECT RAISE(ABORT, 'ledger_overdraft: a guarded account would go below zero')
        WHERE EXISTS (
            SELECT 1 FROM ledger_postings AS p JOIN ledger_balances AS b
            ON b.account = p.account AND b.currency = p.currency
            WHERE p.reference = NEW.reference AND p.kind = NEW.kind AND b.balance_minor < 0
        );
    END""",
)


def upgrade() -> None:
    """Create the ledger tables and their triggers."""
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payment_id", sa.String(length=64)),
        sa.Column("merchant_id", sa.String(length=128)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("reference", "kind", name="uq_ledger_entries_reference_kind"),
    )
    op.create_table(
        "ledger_postings",
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reference", "kind", "seq", name="pk_ledger_postings"),
        sa.ForeignKeyConstraint(
            ["reference", "kind"],
            ["ledger_entries.reference", "ledger_entries.kind"],
            name="fk_ledger_postings_entry",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_postings_not_zero")),
    )
    op.create_index("ix_ledger_postings_account", "ledger_postings", ["account", "currency"])
    op.create_table(
        "ledger_balances",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "currency", name="pk_ledger_balances"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG if postgres else _SQLITE:
        # account names hold colons: escaped, so text() does not take them for parameters
        op.execute(statement.replace(":", "\\:"))


def downgrade() -> None:
    """Drop the ledger (for development and CI only: the books go with it)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in ("ledger_postings", "ledger_entries"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_table("ledger_balances")
    op.drop_index("ix_ledger_postings_account", table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_table("ledger_entries")
    if op.get_bind().dialect.name == "postgresql":
        for function in (
            "ledger_append_only",
            "ledger_entry_balances",
            "ledger_track_guarded",
            "ledger_not_overdrawn",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
