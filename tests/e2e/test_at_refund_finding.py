"""Minimal reproduction of the AT Money refund bug the 2,000-payment chaos run found.

AT Money answers refunds synchronously and has no refund status API. When the refund
call gets a 5xx (or times out after AT processed it), the refund attempt becomes UNKNOWN
and is polled, but every poll answers "no_refund_enquiry": the refund stays open forever
(stuck), and when AT had in fact refunded, the payer has the money while the payment still
says CONFIRMED with nothing refunded (chaos: "refunded 0 recorded, 217 at the providers").
Strict xfail: remove the marker with the fix.
"""

from __future__ import annotations

import pytest
from test_refund_findings import _confirmed, embedded  # the embedded-stack helpers

from synccash.core.payment import AttemptKind, AttemptStatus
from synccash.core.ports import Task, TaskKind

MERCHANT = "repro-merchant"


@pytest.mark.xfail(
    strict=True,
    reason="BUG: an AT Money refund whose answer is lost (5xx, timeout) stays UNKNOWN forever: "
    "AT has no refund status API and the refund is never re-sent",
)
async def test_an_at_refund_whose_answer_was_lost_is_resolved(tmp_path):
    """After a 5xx on the refund call and the provider healthy again, the refund resolves."""
    async with embedded(tmp_path) as container:
        payment = await _confirmed(container, "airteltigo", "0261234567", "20.00")
        at = container.sandbox["airteltigo"]
        at.set_faults(error_rate=1.0)  # the refund call gets a 5xx
        await container.payments.refund(MERCHANT, payment.id, None, "refund-1")
        await container.lifecycle.advance(payment.id)
        at.set_faults(error_rate=0.0)  # AT is fine again
        payment = await container.payments.get(MERCHANT, payment.id)
        refund = next(a for a in payment.attempts if a.kind is AttemptKind.REFUND)
        for _ in range(3):  # what the poll schedule would do, without waiting for it
            await container.lifecycle.handle(
                Task(TaskKind.CHECK_STATUS, payment.id, refund.reference)
            )
        payment = await container.payments.get(MERCHANT, payment.id)
        refund = next(a for a in payment.attempts if a.kind is AttemptKind.REFUND)
        assert refund.status in (AttemptStatus.SUCCEEDED, AttemptStatus.FAILED)
