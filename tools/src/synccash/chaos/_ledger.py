"""The books after a chaos run: `ledger verify` against the sandboxes' own ledgers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql import SqlLedger, SqlUnitOfWorkFactory
from synccash.core.ledger_verify import ProviderMovement, verify_books
from synccash.core.payment import Payment


def movements(
    ledgers: Mapping[str, Sequence[Mapping[str, Any]]],
    originals: Mapping[str, Mapping[str, str]],
) -> list[ProviderMovement]:
    """The sandboxes' ledger entries as provider movements."""
    return [
        ProviderMovement(
            provider,
            str(e["kind"]),
            int(e["amount_minor"]),
            str(e["reference"]),
            originals.get(provider, {}).get(str(e["reference"])),
        )
        for provider, entries in ledgers.items()
        for e in entries
    ]


async def stored_payments(engine: AsyncEngine) -> list[Payment]:
    """Every stored payment, with its attempts."""
    async with engine.connect() as conn:
        ids = [r[0] for r in await conn.execute(text("SELECT id FROM payments ORDER BY id"))]
    found: list[Payment] = []
    async with SqlUnitOfWorkFactory(engine)() as uow:
        for payment_id in ids:
            payment = await uow.payments.get(payment_id)
            if payment is not None:
                found.append(payment)
    return found


async def ledger_differences(
    engine: AsyncEngine,
    ledgers: Mapping[str, Sequence[Mapping[str, Any]]],
    originals: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """What `synccash ledger verify --sandbox-url` would list for this run."""
    books = SqlLedger(engine)
    return verify_books(
        await books.stored_postings(),
        await books.stored_balances(),
        await stored_payments(engine),
        movements(ledgers, originals),
    )
