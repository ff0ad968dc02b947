"""The persistence contract: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

from datetime import timedelta

import pytest
from payments_factory import (
    PAYEE,
    PAYER,
    T0,
    fund_merchant,
    make_payment,
    with_collect_attempt,
)

from synccash.core.errors import ConcurrencyConflict
from synccash.core.fraud import RiskSignals
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome
from synccash.core.payment import AttemptStatus, Payee, PaymentKind, PaymentState
from synccash.core.ports import AttemptOwner, DailyRow, PaymentQuery
from synccash.core.providers import ProviderId

pytestmark = pytest.mark.integration


async def _store(backend, *payments):
    async with backend.uow() as uow:
        for payment in payments:
            await uow.payments.add(payment)
        await uow.commit()


async def _load(backend, pid):
    async with backend.uow() as uow:
        return await uow.payments.get(pid)


async def test_add_then_get_round_trips_every_field(backend):
    """A stored payment loads back equal, attempts and audit trail included."""
    payment = with_collect_attempt(make_payment("p1", key="k1", reference="order-1"), "ref-1", T0)
    payment.routing = {"chosen": "mtn", "scores": {"mtn": 0.9}}
    payment.risk = {"score": 10, "decision": "allow"}
    payment.fee_quote = {"fee": "0.12"}
    payment.fee_minor = 12
    payment.flagged_for_review = True
    await _store(backend, payment)

    loaded = await _load(backend, "p1")

    assert payment.new_events == []
    assert loaded == payment
    assert [e.type for e in loaded.events] == ["payment.initiated", "attempt.created"]


async def test_merchant_account_payee_round_trips(backend):
    """A payee that is the merchant's own account survives storage."""
    payment = make_payment("p1", payee=Payee(merchant_account="acct-9"))
    await _store(backend, payment)

    loaded = await _load(backend, "p1")

    assert loaded.payee == Payee(merchant_account="acct-9")


@pytest.mark.parametrize(
    ("payee", "kind", "expected"),
    [
        (Payee(merchant_account="acct-9"), None, PaymentKind.COLLECTION),
        (Payee(msisdn=PAYEE), None, PaymentKind.TRANSFER),
        (Payee(msisdn=PAYEE), PaymentKind.PAYOUT, PaymentKind.PAYOUT),
    ],
)
async def test_payment_kind_round_trips_and_stays_on_save(backend, payee, kind, expected):
    """The kind a payment was created with is stored, loaded and kept by later saves."""
    payment = make_payment("p1", payee=payee, kind=kind)
    await fund_merchant(backend.ledger, "m1", payment.amount.minor)  # a payout needs a balance
    await _store(backend, payment)
    stored = await _load(backend, "p1")
    stored.cancel(T0 + timedelta(seconds=1))
    async with backend.uow() as uow:
        await uow.payments.save(stored)
        await uow.commit()

    async with backend.uow() as uow:
        loaded, acted_on = await uow.payments.get("p1"), await uow.payments.load("p1")

    assert (expected, expected) == (loaded.kind, acted_on.kind)


async def test_nothing_is_visible_before_commit_and_rollback_discards(backend):
    """Writes are private to the unit of work until commit; leaving without commit drops them."""
    payment = make_payment("p1")
    async with backend.uow() as writer:
        await writer.payments.add(payment)
        assert await _load(backend, "p1") is None
        assert (await writer.payments.get("p1")) is not None
    assert await _load(backend, "p1") is None
    assert [e.type for e in payment.new_events] == ["payment.initiated"]


async def test_unit_of_work_stays_atomic_after_a_commit(backend):
    """Writes after a first commit are again all-or-nothing (no autocommit left behind)."""
    for round_ in ("a", "b"):  # the second round likely reuses the pooled connection
        async with backend.uow() as uow:
            await uow.payments.add(make_payment(f"{round_}1"))
            await uow.commit()
            await uow.payments.add(make_payment(f"{round_}2"))
            first = await uow.payments.get(f"{round_}1")
            first.cancel(T0)
            await uow.payments.save(first)
            await uow.rollback()
        assert await _load(backend, f"{round_}2") is None
        assert (await _load(backend, f"{round_}1")).state is PaymentState.INITIATED


async def test_save_bumps_version_and_clears_new_events_only_at_commit(backend):
    """save() increments the version; new_events stay until the commit succeeds."""
    await _store(backend, make_payment("p1"))
    async with backend.uow() as uow:
        payment = await uow.payments.get("p1")
        payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        await uow.payments.save(payment)
        assert payment.version == 1
        assert len(payment.new_events) == 1
        await uow.commit()
    assert payment.new_events == []
    stored = await _load(backend, "p1")
    assert (stored.version, stored.state) == (1, PaymentState.VALIDATING)
    assert [e.seq for e in stored.events] == [1, 2]


async def test_rollback_restores_the_version(backend):
    """A save that is rolled back leaves the in-memory payment at its old version."""
    await _store(backend, make_payment("p1"))
    async with backend.uow() as uow:
        payment = await uow.payments.get("p1")
        payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        await uow.payments.save(payment)
        await uow.rollback()
    assert payment.version == 0
    assert len(payment.new_events) == 1
    assert (await _load(backend, "p1")).state is PaymentState.INITIATED


async def test_two_saves_in_one_unit_write_each_event_once(backend):
    """Saving twice before commit writes every event exactly once."""
    await _store(backend, make_payment("p1"))
    async with backend.uow() as uow:
        payment = await uow.payments.get("p1")
        payment.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
        await uow.payments.save(payment)
        payment.transition(PaymentState.PENDING, T0, actor="worker", reason="routed")
        await uow.payments.save(payment)
        await uow.commit()
    async with backend.uow() as uow:
        events = await uow.payments.events("p1")
    assert [e.type for e in events] == [
        "payment.initiated",
        "payment.validating",
        "payment.pending",
    ]
    assert (await _load(backend, "p1")).version == 2


async def _save_and_commit(uow, payment):
    await uow.payments.save(payment)
    await uow.commit()


async def test_stale_save_is_a_conflict_and_loses_nothing(backend):
    """Saving a copy read before another committed change raises ConcurrencyConflict."""
    await _store(backend, make_payment("p1"))
    async with backend.uow() as first:
        mine = await first.payments.get("p1")
    async with backend.uow() as second:
        theirs = await second.payments.get("p1")
        theirs.cancel(T0)
        await second.payments.save(theirs)
        await second.commit()
    mine.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
    async with backend.uow() as third:
        with pytest.raises(ConcurrencyConflict):  # at save, or at the latest at commit
            await _save_and_commit(third, mine)
        await third.commit()  # even committing again after the conflict writes nothing of it
    stored = await _load(backend, "p1")
    assert (stored.state, stored.version) == (PaymentState.CANCELLED, 1)
    assert [e.type for e in stored.events] == ["payment.initiated", "payment.cancelled"]
    assert [r.type for r in await backend.outbox.fetch_unpublished(10)] == [
        "payment.initiated",
        "payment.cancelled",
    ]
    assert mine.version == 0


async def test_duplicate_idempotency_key_is_a_conflict(backend):
    """A second payment with the same merchant and key is refused; another merchant may reuse it."""
    await _store(backend, make_payment("p1", key="same"))
    with pytest.raises(ConcurrencyConflict):
        await _store(backend, make_payment("p2", key="same"))
    await _store(backend, make_payment("p3", key="same", merchant="m2"))
    async with backend.uow() as uow:
        assert (await uow.payments.get_by_idempotency_key("m1", "same")).id == "p1"
        assert (await uow.payments.get_by_idempotency_key("m2", "same")).id == "p3"
        assert await uow.payments.get_by_idempotency_key("m1", "other") is None
        assert await uow.payments.get("p2") is None


async def test_get_is_scoped_to_the_merchant(backend):
    """Another merchant's payment id is not found."""
    await _store(backend, make_payment("p1", merchant="m1"))
    async with backend.uow() as uow:
        assert await uow.payments.get("p1", "m2") is None
        assert (await uow.payments.get("p1", "m1")).id == "p1"
        assert await uow.payments.get("nope") is None


async def test_attempts_are_upserted_and_found_by_reference(backend):
    """Attempt changes are stored and the owning payment is found by the attempt reference."""
    await _store(backend, make_payment("p1"))
    async with backend.uow() as uow:
        payment = await uow.payments.get("p1")
        with_collect_attempt(payment, "ref-1", T0)
        await uow.payments.save(payment)
        await uow.commit()
    async with backend.uow() as uow:
        payment = await uow.payments.get_by_attempt_reference("ref-1")
        attempt = payment.attempts[0]
        attempt.submit_count = 1
        payment.update_attempt(
            attempt,
            AttemptStatus.FAILED,
            ProviderOutcome.failed(FailureReason.INSUFFICIENT_FUNDS, code="NOT_ENOUGH_FUNDS"),
            T0 + timedelta(seconds=5),
        )
        await uow.payments.save(payment)
        await uow.commit()
    loaded = await _load(backend, "p1")
    assert loaded.attempts == payment.attempts
    assert loaded.attempts[0].failure_reason is FailureReason.INSUFFICIENT_FUNDS
    async with backend.uow() as uow:
        assert await uow.payments.get_by_attempt_reference("missing") is None


async def test_provider_charges_are_stored_on_the_attempt(backend):
    """The charge a provider reported stays on the attempt, and a later answer without one keeps it."""
    await _store(backend, with_collect_attempt(make_payment("p1"), "ref-1", T0))
    async with backend.uow() as uow:
        payment = await uow.payments.get("p1")
        attempt = payment.attempts[0]
        charged = ProviderOutcome(OutcomeKind.PENDING, provider_charges_minor=25)
        payment.update_attempt(attempt, AttemptStatus.PENDING, charged, T0)
        payment.update_attempt(attempt, AttemptStatus.SUCCEEDED, ProviderOutcome.succeeded(), T0)
        await uow.payments.save(payment)
        await uow.commit()
    loaded = await _load(backend, "p1")
    assert loaded.attempts[0].provider_charges_minor == 25


async def test_attempt_owner_names_the_payment_and_provider_of_a_reference(backend):
    """A callback's lookup: the owning payment's id and the attempt's provider, or None."""
    await _store(backend, with_collect_attempt(make_payment("p1"), "ref-1", T0))
    async with backend.uow() as uow:
        assert await uow.payments.attempt_owner("ref-1") == AttemptOwner("p1", ProviderId.MTN)
        assert await uow.payments.attempt_owner("missing") is None
    async with backend.uow() as uow:  # seen inside a unit that has written, before commit
        staged = with_collect_attempt(make_payment("p2"), "ref-2", T0)
        await uow.payments.add(staged)
        assert await uow.payments.attempt_owner("ref-2") == AttemptOwner("p2", ProviderId.MTN)


async def test_load_gives_the_payment_to_act_on_and_event_numbering_goes_on(backend):
    """load(): the same payment as get() (its events may leave out the stored trail); events
    recorded after a load continue the trail's numbering, whatever the backend loaded."""
    await _store(backend, with_collect_attempt(make_payment("p1"), "ref-1", T0))
    async with backend.uow() as uow:
        full = await uow.payments.get("p1")
        loaded = await uow.payments.load("p1")
        assert await uow.payments.load("missing") is None
    assert loaded.attempts == full.attempts
    assert (loaded.state, loaded.version, loaded.route) == (full.state, full.version, full.route)
    assert loaded.events in ([], full.events)
    loaded.transition(PaymentState.VALIDATING, T0, actor="worker", reason="checks")
    async with backend.uow() as uow:
        await uow.payments.save(loaded)
        await uow.commit()
    async with backend.uow() as uow:
        trail = await uow.payments.events("p1")
    assert [(e.seq, e.type) for e in trail] == [
        (1, "payment.initiated"),
        (2, "attempt.created"),
        (3, "payment.validating"),
    ]


async def test_every_new_event_gets_one_outbox_row(backend):
    """The outbox holds one row per event with a deterministic id, until published."""
    await _store(backend, with_collect_attempt(make_payment("p1"), "ref-1", T0))
    rows = await backend.outbox.fetch_unpublished(10)
    assert [(r.payment_id, r.seq, r.type) for r in rows] == [
        ("p1", 1, "payment.initiated"),
        ("p1", 2, "attempt.created"),
    ]
    assert rows[0].payload["merchant_id"] == "m1"
    assert rows[1].payload["data"]["reference"] == "ref-1"
    assert len({r.id for r in rows}) == 2

    await backend.outbox.mark_published([rows[0].id], T0)

    assert [r.seq for r in await backend.outbox.fetch_unpublished(10)] == [2]


async def test_list_filters_and_pages_newest_first(backend):
    """list() filters by state, provider, dates and reference and pages with a cursor."""
    payments = [make_payment(f"p{i}", at=T0 + timedelta(minutes=i // 2)) for i in range(7)]
    payments[3].cancel(T0)
    payments[4].reference = "order-4"
    with_collect_attempt(payments[5], "ref-5", T0)
    await _store(backend, *payments, make_payment("other", merchant="m2"))

    async with backend.uow() as uow:
        ids: list[str] = []
        cursor = None
        while True:
            page = await uow.payments.list("m1", PaymentQuery(limit=3, cursor=cursor))
            ids += [p.id for p in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        cancelled = await uow.payments.list("m1", PaymentQuery(state=PaymentState.CANCELLED))
        mtn = await uow.payments.list("m1", PaymentQuery(provider=ProviderId.MTN))
        by_ref = await uow.payments.list("m1", PaymentQuery(reference="order-4"))
        window = await uow.payments.list(
            "m1",
            PaymentQuery(
                created_from=T0 + timedelta(minutes=1), created_to=T0 + timedelta(minutes=3)
            ),
        )

    assert ids == ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]
    assert [p.id for p in cancelled.items] == ["p3"]
    assert [p.id for p in mtn.items] == ["p5"]
    assert [p.id for p in by_ref.items] == ["p4"]
    assert [p.id for p in window.items] == ["p5", "p4", "p3", "p2"]


async def test_due_returns_overdue_unfinished_payments_oldest_first(backend):
    """due() lists non-final payments whose next action is at or before now."""
    late = make_payment("late", next_action_at=T0 - timedelta(minutes=5))
    now_ = make_payment("now", next_action_at=T0)
    future = make_payment("future", next_action_at=T0 + timedelta(seconds=1))
    done = make_payment("done")
    done.cancel(T0)
    idle = make_payment("idle", next_action_at=None)
    await _store(backend, late, now_, future, done, idle)

    async with backend.uow() as uow:
        assert list(await uow.payments.due(T0, 10)) == ["late", "now"]
        assert list(await uow.payments.due(T0, 1)) == ["late"]


async def test_daily_totals_group_by_state_and_provider(backend):
    """Daily totals count and sum the merchant's payments of that UTC day."""
    a = make_payment("a", minor=1000, fee_minor=10)
    b = with_collect_attempt(make_payment("b", minor=2000, fee_minor=20), "ref-b", T0)
    c = with_collect_attempt(make_payment("c", minor=500, fee_minor=5), "ref-c", T0)
    d = make_payment("d", minor=700)
    d.cancel(T0)
    yesterday = make_payment("y", at=T0 - timedelta(days=1))
    other = make_payment("o", merchant="m2")
    await _store(backend, a, b, c, d, yesterday, other)

    async with backend.uow() as uow:
        rows = await uow.payments.daily_totals("m1", T0.date())

    assert list(rows) == [
        DailyRow(PaymentState.CANCELLED, None, 1, 700, 0),
        DailyRow(PaymentState.INITIATED, None, 1, 1000, 10),
        DailyRow(PaymentState.INITIATED, ProviderId.MTN, 2, 2500, 25),
    ]


async def test_risk_signals_from_history(backend):
    """Velocity, sums, median, known payee, prompts, fan-in and blocklist come from history."""
    at = T0 + timedelta(days=40)
    other_payee = Payee(msisdn=Msisdn.parse("0501112223"))
    history = [
        make_payment("old", at=at - timedelta(days=31), minor=99_999),  # outside 30 d
        make_payment("d20", at=at - timedelta(days=20), minor=1_000),
        make_payment("h5", at=at - timedelta(hours=5), minor=3_000),
        with_collect_attempt(
            make_payment("m30", at=at - timedelta(minutes=30), minor=2_000),
            "r1",
            at - timedelta(minutes=30),
        ),
        with_collect_attempt(
            make_payment("m5", at=at - timedelta(minutes=5), minor=4_000, payee=other_payee),
            "r2",
            at - timedelta(minutes=5),
        ),
        make_payment("rej", at=at - timedelta(minutes=3), minor=8_000),
        make_payment("future", at=at + timedelta(minutes=1), minor=5_000),
        make_payment("self", at=at, minor=1_234),
    ]
    history[1].state = PaymentState.CONFIRMED  # paid this payee before
    history[5].fail(at - timedelta(minutes=3), code="risk_blocked", reason="blocked")
    fan_in = [
        make_payment(f"fan{i}", at=at - timedelta(minutes=10), payer=Msisdn.parse(f"024999000{i}"))
        for i in range(3)
    ]
    fan_in.append(make_payment("fan-old", at=at - timedelta(hours=2), payer=fan_in[0].payer))
    await _store(backend, *history, *fan_in)
    await backend.block(str(PAYEE), "mule account")

    signals = await backend.risk.signals(
        payer=PAYER, payee_key=str(PAYEE), amount=Money(1_234), at=at, exclude_payment_id="self"
    )

    assert signals == RiskSignals(
        payer_count_1h=2,
        payer_count_24h=3,
        payer_sum_24h=Money(9_000),
        payer_sum_30d=Money(10_000),
        payer_median_amount_30d=Money(2_000),
        payee_known_to_payer=True,
        payer_blocklisted=False,
        payee_blocklisted=True,
        prompts_to_payer_10m=1,
        prompts_to_payer_1h=2,
        distinct_new_payers_to_payee_1h=2,  # fan1, fan2; PAYER and fan0 paid it before the hour
    )


async def test_risk_signals_without_history(backend):
    """A payer with no history has zero counts and no median."""
    signals = await backend.risk.signals(
        payer=PAYER, payee_key="acct:x", amount=Money(100), at=T0, exclude_payment_id="p"
    )

    assert signals == RiskSignals()


async def test_fan_in_counts_wallet_payees_only(backend):
    """Many new payers into a merchant collection account is business, not a mule: 0."""
    at = T0 + timedelta(days=1)
    shop = Payee(merchant_account="shop-1")
    wallet = Payee(msisdn=PAYEE)
    payers = [Msisdn.parse(f"024888000{i}") for i in range(4)]
    rows = [
        make_payment(f"{kind}{i}", at=at - timedelta(minutes=5), payer=payer, payee=payee)
        for i, payer in enumerate(payers)
        for kind, payee in (("shop", shop), ("wallet", wallet))
    ]
    await _store(backend, *rows)

    into_shop = await backend.risk.signals(
        payer=PAYER, payee_key=shop.key, amount=Money(100), at=at, exclude_payment_id="x"
    )
    into_wallet = await backend.risk.signals(
        payer=PAYER, payee_key=wallet.key, amount=Money(100), at=at, exclude_payment_id="x"
    )

    assert into_shop.distinct_new_payers_to_payee_1h == 0
    assert into_wallet.distinct_new_payers_to_payee_1h == 4
