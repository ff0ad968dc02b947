"""The Payment aggregate under random command sequences: only legal states, terminal stays terminal."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from synccash.core.errors import IllegalTransition, PaymentNotCancellable, PaymentNotRefundable
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import (
    TRANSITIONS,
    AttemptKind,
    AttemptStatus,
    Payee,
    Payment,
    PaymentKind,
    PaymentState,
    Wallet,
)
from synccash.core.providers import ProviderId

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAYER = Msisdn.parse("0241234567")


def _payment() -> Payment:
    return Payment.initiate(
        payment_id="00000000-0000-7000-8000-000000000001",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=Payee(msisdn=Msisdn.parse("0551234567")),
        now=T0,
        expires_at=T0 + timedelta(hours=1),
    )


class PaymentMachine(RuleBasedStateMachine):
    """Drive one payment with arbitrary commands; illegal ones must raise and change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.payment = _payment()
        self.tick = 0
        self.history = [self.payment.state]
        self.refs = 0

    def _now(self) -> datetime:
        self.tick += 1
        return T0 + timedelta(seconds=self.tick)

    @rule(to=st.sampled_from(list(PaymentState)))
    def try_transition(self, to):
        """Any requested transition either follows the table or raises without effect."""
        before = self.payment.state
        events = len(self.payment.events)
        if to in TRANSITIONS[before]:
            self.payment.transition(to, self._now(), actor="test", reason="random")
            assert self.payment.state is to
            assert len(self.payment.events) == events + 1
        else:
            with pytest.raises(IllegalTransition):
                self.payment.transition(to, self._now(), actor="test", reason="random")
            assert self.payment.state is before
            assert len(self.payment.events) == events

    @rule()
    def add_attempt(self):
        """A new attempt is only possible when no attempt of that kind is open."""
        open_before = any(
            a.is_open and a.kind is AttemptKind.COLLECT for a in self.payment.attempts
        )
        self.refs += 1
        if open_before:
            with pytest.raises(IllegalTransition):
                self._add()
        else:
            self._add()

    def _add(self):
        self.payment.add_attempt(
            reference=f"ref-{self.refs}",
            provider=ProviderId.MTN,
            kind=AttemptKind.COLLECT,
            msisdn=PAYER,
            amount=self.payment.amount,
            at=self._now(),
        )

    @precondition(lambda self: any(a.is_open for a in self.payment.attempts))
    @rule(kind=st.sampled_from(["pending", "unknown", "succeeded", "failed"]))
    def provider_answers(self, kind):
        """Provider answers move an open attempt; a final attempt never changes again."""
        attempt = next(a for a in self.payment.attempts if a.is_open)
        outcome = {
            "pending": ProviderOutcome.pending("PENDING"),
            "unknown": ProviderOutcome.unknown("timeout"),
            "succeeded": ProviderOutcome.succeeded("txn"),
            "failed": ProviderOutcome.failed(FailureReason.INSUFFICIENT_FUNDS, "NOT_ENOUGH_FUNDS"),
        }[kind]
        self.payment.update_attempt(attempt, AttemptStatus(kind), outcome, self._now())
        assert attempt.status is AttemptStatus(kind)
        final = next((a for a in self.payment.attempts if a.status.is_final), None)
        if final is not None:
            other = (
                AttemptStatus.FAILED
                if final.status is AttemptStatus.SUCCEEDED
                else AttemptStatus.SUCCEEDED
            )
            with pytest.raises(IllegalTransition):
                self.payment.update_attempt(final, other, outcome, self._now())
            assert final.status is not other

    @rule()
    def cancel(self):
        """Cancel succeeds only before anything is at a provider and before the end."""
        state = self.payment.state
        allowed = (
            not state.is_terminal
            and state is not PaymentState.PROCESSING
            and not self.payment.money_may_be_moving
        )
        if allowed:
            self.payment.cancel(self._now())
            assert self.payment.state is PaymentState.CANCELLED
        else:
            with pytest.raises(PaymentNotCancellable):
                self.payment.cancel(self._now())
            assert self.payment.state is state

    @rule(minor=st.integers(min_value=-10, max_value=10_000))
    def refund_check(self, minor):
        """Refunds are only possible from CONFIRMED and within what was paid."""
        ok = (
            self.payment.state is PaymentState.CONFIRMED
            and self.payment.open_refund is None
            and 0 < minor <= self.payment.amount.minor - self.payment.refunded_minor
        )
        if ok:
            self.payment.check_refund(Money(minor))
        else:
            with pytest.raises(PaymentNotRefundable):
                self.payment.check_refund(Money(minor))

    @invariant()
    def terminal_states_stay_terminal(self):
        """Once final (not CONFIRMED), the state never changes; CONFIRMED may only become REFUNDED."""
        current = self.payment.state
        previous = self.history[-1]
        if previous.is_final:
            assert current is previous
        if previous is PaymentState.CONFIRMED:
            assert current in (PaymentState.CONFIRMED, PaymentState.REFUNDED)
        self.history.append(current)

    @invariant()
    def audit_trail_is_ordered(self):
        """Event sequence numbers are 1..n without gaps."""
        assert [e.seq for e in self.payment.events] == list(range(1, len(self.payment.events) + 1))

    @invariant()
    def at_most_one_open_collect_attempt(self):
        """Never two collection attempts open at once."""
        assert sum(a.is_open and a.kind is AttemptKind.COLLECT for a in self.payment.attempts) <= 1


TestPaymentMachine = PaymentMachine.TestCase
TestPaymentMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


def test_events_recorded_after_a_load_without_the_trail_continue_its_numbering():
    """A payment loaded without its stored events (history_seq = the last stored seq) numbers
    new events from there; one with its trail numbers from its last event."""
    payment = _payment()
    stored = len(payment.events)
    payment.events.clear()
    payment.new_events.clear()
    payment.history_seq = stored
    event = payment.record("note", T0, "ops", text="checked")
    assert event.seq == stored + 1
    assert payment.record("note", T0, "ops").seq == stored + 2
    assert [e.seq for e in payment.new_events] == [stored + 1, stored + 2]


@pytest.mark.parametrize(
    ("payee", "expected"),
    [
        (Payee(msisdn=Msisdn.parse("0551234567")), PaymentKind.TRANSFER),
        (Payee(merchant_account="shop-1"), PaymentKind.COLLECTION),
    ],
)
def test_initiate_takes_its_kind_from_the_payee(payee: Payee, expected: PaymentKind) -> None:
    """A wallet payee makes a transfer, a merchant account a collection; the event says so."""
    payment = Payment.initiate(
        payment_id="p",
        merchant_id="m",
        amount=Money(5000),
        payer=PAYER,
        wallets=(Wallet(ProviderId.MTN, PAYER),),
        payee=payee,
        now=T0,
        expires_at=T0 + timedelta(hours=1),
    )

    assert (expected, expected.value) == (payment.kind, payment.events[0].data["kind"])
