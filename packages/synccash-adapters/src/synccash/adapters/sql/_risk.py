"""RiskContext over SQL: the fraud signals from indexed queries on payments and attempts.

Definitions (the in-memory RiskContext follows the same ones; a contract test checks):
- windows are (at - w, at]; the payment being assessed is excluded;
- a payer's counts, sums and median cover payments in the assessed currency, except
  those that FAILED before any attempt reached a provider;
- the payee is known to the payer after a CONFIRMED (or later REFUNDED) payment to it;
- prompts to a payer are collection attempts created for that MSISDN;
- new payers into a payee are distinct payers in the last hour with no payment to
  that payee before the hour; counted for wallet payees only (a merchant's own
  collection account is paid by many new payers by design, and counting them would
  scan every payment into it).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    not_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.engines.group import GroupReader
from synccash.adapters.engines.pgfast import compile_lateral
from synccash.adapters.sql._healing import discard_on_loss
from synccash.adapters.sql._tables import blocklist, payment_attempts, payments
from synccash.adapters.sql._types import UtcDateTime
from synccash.core.fraud import RiskSignals
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind, PaymentKind, PaymentState, is_wallet_payee_key

HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
MONTH: Final = timedelta(days=30)
TEN_MINUTES: Final = timedelta(minutes=10)


def _const(value: str) -> ColumnElement[Any]:
    """A state or kind name as an SQL constant (no bound parameter: the precompiled
    PostgreSQL statement binds only the per-call values)."""
    if not value.isidentifier():  # pragma: no cover - our own enum values only
        raise ValueError(f"not a constant name: {value!r}")
    return literal_column(f"'{value}'")


_KNOWN_STATES: Final = (PaymentState.CONFIRMED.value, PaymentState.REFUNDED.value)


def _counted() -> ColumnElement[bool]:
    """Payments the fraud history counts: not payouts (money out is not the payer's
    spending), nor ones rejected before they reached a provider."""
    rejected_early = and_(
        payments.c.state == _const(PaymentState.FAILED.value), ~payments.c.reached_provider
    )
    return and_(payments.c.kind != _const(PaymentKind.PAYOUT.value), not_(rejected_early))


class SqlRiskContext:
    """RiskContext port: payer velocity, payee history, prompts and fan-in from SQL."""

    def __init__(self, engine: AsyncEngine, reader: GroupReader | None = None) -> None:
        self._engine = engine
        self._reader = reader  # PostgreSQL: concurrent assessments share a round trip

    async def signals(
        self, *, payer: Msisdn, payee_key: str, amount: Money, at: datetime, exclude_payment_id: str
    ) -> RiskSignals:
        """The payer/payee history and list checks as of `at`."""
        if self._engine.dialect.name == "postgresql":
            return await self._signals_pg(payer, payee_key, amount, at, exclude_payment_id)
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
                await conn.execute(
                    self._lookups(
                        payer.e164,
                        payee_key,
                        at,
                        exclude_payment_id,
                        wallet_payee=literal(is_wallet_payee_key(payee_key)),
                    )
                )
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

    async def _signals_pg(
        self, payer: Msisdn, payee_key: str, amount: Money, at: datetime, exclude: str
    ) -> RiskSignals:
        """PostgreSQL: every signal from one precompiled statement, outside any transaction."""
        compiled, batched = compile_lateral(
            "risk_signals", self._engine.dialect, _pg_signals_statement
        )
        args = compiled.bind(
            {
                "payer": payer.e164,
                "payee_key": payee_key,
                "currency": amount.currency,
                "exclude": exclude,
                "at": at,
                "at_10m": at - TEN_MINUTES,
                "at_1h": at - HOUR,
                "at_24h": at - DAY,
                "at_30d": at - MONTH,
                "wallet_payee": is_wallet_payee_key(payee_key),
            }
        )
        if self._reader is not None:
            row = await self._reader.fetch_each(batched, args)
        else:
            async with self._engine.connect() as conn, discard_on_loss(conn):
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:
                    raise RuntimeError("the pooled connection is closed")
                row = await driver.fetchrow(compiled.sql, *args)
        median = row["median"]
        return RiskSignals(
            payer_count_1h=int(row["count_1h"]),
            payer_count_24h=int(row["count_24h"]),
            payer_sum_24h=Money(int(row["sum_24h"]), amount.currency),
            payer_sum_30d=Money(int(row["sum_30d"]), amount.currency),
            payer_median_amount_30d=None if median is None else Money(int(median), amount.currency),
            payee_known_to_payer=bool(row["known"]),
            payer_blocklisted=bool(row["payer_blocked"]),
            payee_blocklisted=bool(row["payee_blocked"]),
            prompts_to_payer_10m=int(row["prompts_10m"] or 0),
            prompts_to_payer_1h=int(row["prompts_1h"] or 0),
            distinct_new_payers_to_payee_1h=int(row["new_payers"] or 0),
        )

    @staticmethod
    def _lookups(
        payer: Any,
        payee_key: Any,
        at: Any,
        exclude: Any,
        *,
        wallet_payee: Any,
        hour_ago: Any = None,
        ten_minutes_ago: Any = None,
    ) -> Select[Any]:
        """The list, known-payee, prompt and fan-in checks (values or bound parameters)."""
        hour_ago = at - HOUR if hour_ago is None else hour_ago
        ten_minutes_ago = at - TEN_MINUTES if ten_minutes_ago is None else ten_minutes_ago
        known = exists().where(
            payments.c.payer == payer,
            payments.c.payee_key == payee_key,
            payments.c.state.in_([_const(v) for v in _KNOWN_STATES]),
            payments.c.created_at <= at,
            payments.c.id != exclude,
        )
        prompts = payment_attempts.c
        prompt_window = and_(
            prompts.msisdn == payer,
            prompts.kind == _const(AttemptKind.COLLECT.value),
            prompts.created_at <= at,
            prompts.payment_id != exclude,
        )
        prompts_1h = (
            select(func.count())
            .where(prompt_window, prompts.created_at > hour_ago)
            .scalar_subquery()
        )
        prompts_10m = (
            select(func.count())
            .where(prompt_window, prompts.created_at > ten_minutes_ago)
            .scalar_subquery()
        )
        earlier = payments.alias("earlier")
        new_payers = (
            select(func.count(payments.c.payer.distinct()))
            .where(
                wallet_payee,  # a merchant account's fan-in is not counted (nor scanned)
                payments.c.payee_key == payee_key,
                payments.c.created_at > hour_ago,
                payments.c.created_at <= at,
                payments.c.id != exclude,
                _counted(),
                ~exists().where(
                    earlier.c.payee_key == payee_key,
                    earlier.c.payer == payments.c.payer,
                    earlier.c.created_at <= hour_ago,
                ),
            )
            .scalar_subquery()
        )
        return select(
            known.label("known"),
            exists().where(blocklist.c.msisdn == payer).label("payer_blocked"),
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


def _pg_signals_statement() -> Select[Any]:
    """Every signal in one row: the payer's 30-day aggregates (the lower median by
    percentile_disc, as statistics.median_low) beside the list and history checks."""
    p = payments.c
    at = bindparam("at", type_=UtcDateTime())
    at_1h = bindparam("at_1h", type_=UtcDateTime())
    at_24h = bindparam("at_24h", type_=UtcDateTime())
    payer = bindparam("payer", type_=p.payer.type)
    exclude = bindparam("exclude", type_=p.id.type)
    history = (
        select(
            func.count().filter(p.created_at > at_1h).label("count_1h"),
            func.count().filter(p.created_at > at_24h).label("count_24h"),
            func.coalesce(
                func.sum(p.amount_minor).filter(p.created_at > at_24h), literal_column("0")
            ).label("sum_24h"),
            func.coalesce(func.sum(p.amount_minor), literal_column("0")).label("sum_30d"),
            func.percentile_disc(literal_column("0.5"))
            .within_group(p.amount_minor)
            .label("median"),
        )
        .where(
            p.payer == payer,
            p.created_at > bindparam("at_30d", type_=UtcDateTime()),
            p.created_at <= at,
            p.id != exclude,
            p.currency == bindparam("currency", type_=p.currency.type),
            _counted(),
        )
        .subquery("history")
    )
    lookups = SqlRiskContext._lookups(  # noqa: SLF001 - the same checks as the portable path
        payer,
        bindparam("payee_key", type_=p.payee_key.type),
        at,
        exclude,
        wallet_payee=bindparam("wallet_payee", type_=Boolean()),
        hour_ago=at_1h,
        ten_minutes_ago=bindparam("at_10m", type_=UtcDateTime()),
    ).subquery("lookups")
    return select(history, lookups)
