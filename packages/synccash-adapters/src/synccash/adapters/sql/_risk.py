"""RiskContext over SQL: the fraud signals from indexed queries on payments and attempts.

Definitions (the in-memory RiskContext follows the same ones; a contract test checks):
- windows are (at - w, at]; the payment being assessed is excluded;
- a payer's counts, sums and median cover payments in the assessed currency, except
  those that FAILED before any attempt reached a provider;
- the payee is known to the payer after a CONFIRMED (or later REFUNDED) payment to it;
- prompts to a payer are collection attempts created for that MSISDN;
- new payers into a payee are distinct payers in the last hour with no payment to
  that payee before the hour.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql._tables import blocklist, payment_attempts, payments
from synccash.core.fraud import RiskSignals
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind, PaymentState

HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
MONTH: Final = timedelta(days=30)
TEN_MINUTES: Final = timedelta(minutes=10)
_KNOWN_STATES: Final = (PaymentState.CONFIRMED.value, PaymentState.REFUNDED.value)


def _counted() -> ColumnElement[bool]:
    return not_(and_(payments.c.state == PaymentState.FAILED.value, ~payments.c.reached_provider))


class SqlRiskContext:
    """RiskContext port: payer velocity, payee history, prompts and fan-in from SQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def signals(
        self, *, payer: Msisdn, payee_key: str, amount: Money, at: datetime, exclude_payment_id: str
    ) -> RiskSignals:
        """The payer/payee history and list checks as of `at`."""
        history = select(payments.c.amount_minor, payments.c.created_at).where(
            payments.c.payer == payer.e164,
            payments.c.created_at > at - MONTH,
            payments.c.created_at <= at,
            payments.c.id != exclude_payment_id,
            payments.c.currency == amount.currency,
            _counted(),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(history)).all()
            lookups = (
                await conn.execute(self._lookups(payer, payee_key, at, exclude_payment_id))
            ).one()
        amounts = [(int(r.amount_minor), r.created_at) for r in rows]
        return RiskSignals(
            payer_count_1h=sum(1 for _, t in amounts if t > at - HOUR),
            payer_count_24h=sum(1 for _, t in amounts if t > at - DAY),
            payer_sum_24h=Money(sum(m for m, t in amounts if t > at - DAY), amount.currency),
            payer_sum_30d=Money(sum(m for m, _ in amounts), amount.currency),
            payer_median_amount_30d=_median([m for m, _ in amounts], amount.currency),
            payee_known_to_payer=bool(lookups.known),
            payer_blocklisted=bool(lookups.payer_blocked),
            payee_blocklisted=bool(lookups.payee_blocked),
            prompts_to_payer_10m=int(lookups.prompts_10m or 0),
            prompts_to_payer_1h=int(lookups.prompts_1h or 0),
            distinct_new_payers_to_payee_1h=int(lookups.new_payers or 0),
        )

    @staticmethod
    def _lookups(payer: Msisdn, payee_key: str, at: datetime, exclude: str) -> Select[Any]:
        known = exists().where(
            payments.c.payer == payer.e164,
            payments.c.payee_key == payee_key,
            payments.c.state.in_(_KNOWN_STATES),
            payments.c.created_at <= at,
            payments.c.id != exclude,
        )
        prompts = payment_attempts.c
        prompt_window = and_(
            prompts.msisdn == payer.e164,
            prompts.kind == AttemptKind.COLLECT.value,
            prompts.created_at <= at,
            prompts.payment_id != exclude,
        )
        prompts_1h = (
            select(func.count())
            .where(prompt_window, prompts.created_at > at - HOUR)
            .scalar_subquery()
        )
        prompts_10m = (
            select(func.count())
            .where(prompt_window, prompts.created_at > at - TEN_MINUTES)
            .scalar_subquery()
        )
        earlier = payments.alias("earlier")
        new_payers = (
            select(func.count(payments.c.payer.distinct()))
            .where(
                payments.c.payee_key == payee_key,
                payments.c.created_at > at - HOUR,
                payments.c.created_at <= at,
                payments.c.id != exclude,
                _counted(),
                ~exists().where(
                    earlier.c.payee_key == payee_key,
                    earlier.c.payer == payments.c.payer,
                    earlier.c.created_at <= at - HOUR,
                ),
            )
            .scalar_subquery()
        )
        return select(
            known.label("known"),
            exists().where(blocklist.c.msisdn == payer.e164).label("payer_blocked"),
            exists().where(blocklist.c.msisdn == payee_key).label("payee_blocked"),
            prompts_10m.label("prompts_10m"),
            prompts_1h.label("prompts_1h"),
            new_payers.label("new_payers"),
        )

    async def block(self, msisdn_or_payee_key: str, reason: str) -> None:
        """Add an MSISDN (or payee key) to the blocklist."""
        async with self._engine.begin() as conn:
            existing = await conn.execute(
                select(blocklist.c.msisdn).where(blocklist.c.msisdn == msisdn_or_payee_key)
            )
            if existing.first() is None:
                await conn.execute(
                    blocklist.insert().values(msisdn=msisdn_or_payee_key, reason=reason)
                )


def _median(amounts: Sequence[int], currency: str) -> Money | None:
    """The lower median (an integer amount), or None without history."""
    if not amounts:
        return None
    return Money(statistics.median_low(amounts), currency)
