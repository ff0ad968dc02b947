"""Minimal reproduction of the AT Money refund bug the 2,000-payment chaos run found.

AT Money answers refunds synchronously and has no refund status API. When the refund
call gets a 5xx (or times out after AT processed it), the refund attempt becomes UNKNOWN
and is polled, but every poll answers "no_refund_enquiry": the refund stays open forever
(stuck), and when AT had in fact refunded, the payer has the money while the payment still
says CONFIRMED with nothing refunded (chaos: "refunded 0 recorded, 217 at the providers").
Fixed: a refund at a provider without a refund status API is re-sent with the same
reference (answered idempotently) instead of being polled forever.
"""

from __future__ import annotations

from test_refund_findings import _confirmed, embedded  # the embedded-stack helpers

from synccash.core.payment import AttemptKind, AttemptStatus
from synccash.core.ports import Task, TaskKind

MERCHANT = "repro-merchant"


async def test_an_at_refund_whose_answer_was_lost_is_resolved(tmp_path):
    """After a 5xx on the refund call and the provider healthy again, the refund resolves."""
    async with embedded(tmp_path) as (container, sandboxes):
        payment = await _confirmed(container, "airteltigo", "0261234567", "20.00")
        at = sandboxes["airteltigo"]
        at.set_faults(error_rate=1.0)  # the refund call gets a 5xx
        await container.payments.refund(MERCHANT, payment.id, None, "refund-1")
        await container.lifecycle.advance(payment.id)
        at.set_faults(error_rate=0.0)  # AT is fine again
        payment = await container.payments.get(MERCHANT, payment.id)
        refund = next(a for a in payment.attempts if a.kind is AttemptKind.REFUND)
        for _ in range(3):  # what the schedule would do, without waiting for it
            await container.lifecycle.handle(
                Task(TaskKind.CHECK_STATUS, payment.id, refund.reference)
            )
            async with container.uow() as uow:  # make the next action due now
                stored = await uow.payments.get(payment.id)
                stored.next_action_at = container.clock.now()
                await uow.payments.save(stored)
                await uow.commit()
            await container.lifecycle.advance(payment.id)
        payment = await container.payments.get(MERCHANT, payment.id)
        refund = next(a for a in payment.attempts if a.kind is AttemptKind.REFUND)
        assert refund.status in (AttemptStatus.SUCCEEDED, AttemptStatus.FAILED)
