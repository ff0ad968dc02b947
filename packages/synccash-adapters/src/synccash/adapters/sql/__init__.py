"""PostgreSQL (asyncpg) and SQLite (aiosqlite) persistence on SQLAlchemy 2 Core.

One code path serves both; PostgreSQL adds SKIP LOCKED, JSONB and the
append-only trigger on the audit trail.
"""

from synccash.adapters.engines.pgfast import (
    CompiledStatement,
    compile_new_payment,
    compile_save,
    new_payment_params,
    save_params,
)
from synccash.adapters.event_payload import outbox_id
from synccash.adapters.sql._endpoints import SqlWebhookEndpoints
from synccash.adapters.sql._engine import (
    DatabaseError,
    DatabaseUnavailable,
    SchemaBehind,
    check_schema,
    create_engine_from_settings,
    make_engine,
)
from synccash.adapters.sql._ledger import SqlLedger, ledger_refusal
from synccash.adapters.sql._merchants import SqlMerchantRegistry
from synccash.adapters.sql._migrate import downgrade, head_revision, migrate, schema_drift
from synccash.adapters.sql._outbox import (
    DeliveryStatus,
    OutboxClaim,
    SqlOutbox,
    SqlWebhookDeliveries,
    WebhookDelivery,
    delivery_id_for,
)
from synccash.adapters.sql._reconcile import (
    ImportResult,
    ItemAlreadyResolved,
    RunSummary,
    SqlReconciliation,
    run_id_for,
)
from synccash.adapters.sql._repository import SqlPaymentRepository
from synccash.adapters.sql._risk import SqlRiskContext
from synccash.adapters.sql._risk_ops import SqlRiskOperations
from synccash.adapters.sql._uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "CompiledStatement",
    "DatabaseError",
    "DatabaseUnavailable",
    "DeliveryStatus",
    "ImportResult",
    "ItemAlreadyResolved",
    "OutboxClaim",
    "RunSummary",
    "SchemaBehind",
    "SqlLedger",
    "SqlMerchantRegistry",
    "SqlOutbox",
    "SqlPaymentRepository",
    "SqlReconciliation",
    "SqlRiskContext",
    "SqlRiskOperations",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "SqlWebhookDeliveries",
    "SqlWebhookEndpoints",
    "WebhookDelivery",
    "check_schema",
    "compile_new_payment",
    "compile_save",
    "create_engine_from_settings",
    "delivery_id_for",
    "downgrade",
    "head_revision",
    "ledger_refusal",
    "make_engine",
    "migrate",
    "new_payment_params",
    "outbox_id",
    "run_id_for",
    "save_params",
    "schema_drift",
]
