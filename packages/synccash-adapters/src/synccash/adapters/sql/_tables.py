"""The schema, as SQLAlchemy Core tables. Alembic migrations must match it (a test checks)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from synccash.adapters.sql._types import JsonDoc, UtcDateTime

#: Constraint names are deterministic so migrations can refer to them on both dialects.
NAMING: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: States after which the worker has nothing left to do (CONFIRMED may still be refunded).
FINAL_STATES_SQL: Final = "('FAILED', 'EXPIRED', 'CANCELLED', 'REFUNDED')"

payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(128), nullable=False),
    Column("idempotency_key", String(255)),
    Column("fingerprint", String(128)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payer", String(16), nullable=False),
    Column("payee_msisdn", String(16)),
    Column("payee_account", String(128)),
    # Payee.key, denormalised so the fraud fan-in query is one index range scan
    Column("payee_key", String(160), nullable=False),
    Column("wallets", JsonDoc, nullable=False),
    Column("description", Text, nullable=False),
    Column("reference", String(255)),
    Column("metadata", JsonDoc, nullable=False),
    Column("webhook_url", Text),
    # PaymentKind: collection, transfer or payout (which legs the payment has)
    Column("kind", String(16), nullable=False, server_default="collection"),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    # Payment.provider at the last write: list filter and daily report without joins
    Column("provider", String(16)),
    # an attempt was sent to a provider: fraud counts ignore payments rejected before that
    Column("reached_provider", Boolean, nullable=False),
    Column("failure_code", String(64)),
    Column("failure_reason", Text),
    Column("route", JsonDoc, nullable=False),
    Column("routing", JsonDoc),
    Column("risk", JsonDoc),
    Column("fee_quote", JsonDoc),
    Column("fee_minor", BigInteger, nullable=False),
    Column("flagged_for_review", Boolean, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("next_action_at", UtcDateTime),
    UniqueConstraint("merchant_id", "idempotency_key", name="uq_payments_merchant_idempotency"),
)
# newest-first listing with the (created_at, id) keyset cursor
Index(
    "ix_payments_merchant_created",
    payments.c.merchant_id,
    payments.c.created_at.desc(),
    payments.c.id.desc(),
)
Index("ix_payments_payer_created", payments.c.payer, payments.c.created_at)
Index("ix_payments_payee_created", payments.c.payee_key, payments.c.created_at)
Index(
    "ix_payments_due",
    payments.c.next_action_at,
    postgresql_where=text(f"next_action_at IS NOT NULL AND state NOT IN {FINAL_STATES_SQL}"),
    sqlite_where=text(f"next_action_at IS NOT NULL AND state NOT IN {FINAL_STATES_SQL}"),
)

payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("reference", String(64), primary_key=True),
    Column(
        "payment_id",
        String(64),
        ForeignKey("payments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("provider", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("provider_transaction_id", String(128)),
    Column("error_code", String(128)),
    Column("failure_reason", String(32)),
    Column("submit_count", Integer, nullable=False),
    Column("poll_count", Integer, nullable=False),
    Column("original_reference", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # the provider's charge for the attempt in pesewas, when its answer said (migration 0003)
    Column("provider_charges_minor", BigInteger),
    UniqueConstraint("payment_id", "seq", name="uq_payment_attempts_payment_seq"),
)
# prompt-bombing signal: collection attempts per payer MSISDN over time
Index(
    "ix_payment_attempts_msisdn_created", payment_attempts.c.msisdn, payment_attempts.c.created_at
)

payment_events = Table(
    "payment_events",
    metadata,
    Column(
        "payment_id",
        String(64),
        ForeignKey("payments.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", JsonDoc, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("payment_id", "seq", name="pk_payment_events"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("payment_id", String(64), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
)
Index(
    "ix_outbox_unpublished",
    outbox.c.created_at,
    postgresql_where=text("published_at IS NULL"),
    sqlite_where=text("published_at IS NULL"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("outbox_id", String(36), nullable=False),
    Column("payment_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # a merchant webhook endpoint's delivery (None: the payment's own webhook_url); the id is
    # the deterministic uuid5 of (event, URL) or (event, endpoint), so creating is idempotent
    Column("endpoint_id", String(32)),
    Column("seq", BigInteger),  # the endpoint's sequence number of this delivery
    # the exact body sent on every attempt (retries are byte-identical)
    Column("body", Text),
)
Index(
    "ix_webhook_deliveries_endpoint",
    webhook_deliveries.c.endpoint_id,
    webhook_deliveries.c.created_at,
)
Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
    sqlite_where=text("status = 'pending'"),
)

blocklist = Table(
    "blocklist",
    metadata,
    # an MSISDN (233…) or a payee key such as "acct:…"
    Column("msisdn", String(160), primary_key=True),
    Column("reason", Text, nullable=False),
)

# --- the ledger (synccash.core.ledger; triggers in migration 0005) -------------------------
#: SQLite needs INTEGER (not BIGINT) for an auto-numbered primary key (its rowid).
_ENTRY_ID = BigInteger().with_variant(Integer(), "sqlite")

ledger_entries = Table(
    "ledger_entries",
    metadata,
    # the journal's order (statement cursors); ids follow insert order, not commit order
    Column("id", _ENTRY_ID, primary_key=True, autoincrement=True),
    Column("reference", String(128), nullable=False),  # attempt reference, payment or top-up id
    Column("kind", String(24), nullable=False),  # PostingKind
    Column("payment_id", String(64)),
    Column("merchant_id", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    # the idempotency key: a replayed save never posts twice
    UniqueConstraint("reference", "kind", name="uq_ledger_entries_reference_kind"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("reference", String(128), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("account", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # debit > 0, credit < 0, never 0
    PrimaryKeyConstraint("reference", "kind", "seq", name="pk_ledger_postings"),
    ForeignKeyConstraint(
        ["reference", "kind"],
        ["ledger_entries.reference", "ledger_entries.kind"],
        name="fk_ledger_postings_entry",
        deferrable=True,
        initially="DEFERRED",
    ),
    CheckConstraint("amount_minor <> 0", name="not_zero"),
)
Index("ix_ledger_postings_account", ledger_postings.c.account, ledger_postings.c.currency)

#: Balances of the guarded accounts only (merchant available, provider float), kept by a
#: trigger on ledger_postings, on the account's normal side; never below 0 (a trigger).
ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("account", "currency", name="pk_ledger_balances"),
)

#: A reviewer's decision on a payment the fraud rules flagged for review (one per payment).
risk_reviews = Table(
    "risk_reviews",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("merchant_id", String(128), nullable=False),
    Column("decision", String(16), nullable=False),  # approved | declined
    Column("decided_by", String(128), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("note", Text, nullable=False),
)

#: Who did what to the risk set-up (reviews, blocklist), written with the change itself.
risk_audit = Table(
    "risk_audit",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(160), nullable=False),
    Column("detail", JsonDoc, nullable=False),
)
Index("ix_risk_audit_at", risk_audit.c.at)
