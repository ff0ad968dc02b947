"""Under injected faults and client retries, money moves at most once per reference and is conserved."""

from __future__ import annotations

import uuid

import anyio
import pytest
from sandbox_mtn_wire import auth, request_to_pay

pytestmark = pytest.mark.integration

PAYERS = [f"23324{n:07d}" for n in range(1_234_500, 1_234_510)]


async def test_retries_under_faults_debit_each_reference_once(http, mtn_url, mtn_sandbox):
    """40 concurrent payments, each retried with its own reference through 5xx/429: one debit each at most."""
    headers = await auth(http, mtn_url)
    world = mtn_sandbox.world
    for payer in PAYERS:
        world.register(payer, "mtn", balance_minor=5_000)
    money_before = (
        sum(w.balance_minor for w in world.wallets) + mtn_sandbox.config.merchant_balance_minor
    )
    mtn_sandbox.set_faults(
        error_rate=0.3, rate_limit_rate=0.1, duplicate_callback_rate=0.5, seed=11
    )
    answers: dict[str, list[int]] = {}

    async def pay(index: int) -> None:
        reference = str(uuid.uuid4())
        answers[reference] = []
        for _ in range(4):
            payer = PAYERS[index % len(PAYERS)]
            _, response = await request_to_pay(
                http, mtn_url, headers, payer, amount="7", reference=reference
            )
            answers[reference].append(response.status_code)
            if response.status_code in (202, 409):
                break

    async with anyio.create_task_group() as group:
        for index in range(40):
            group.start_soon(pay, index)
    mtn_sandbox.set_faults(error_rate=0.0, rate_limit_rate=0.0)

    accepted = {ref for ref, codes in answers.items() if 202 in codes}
    debits = mtn_sandbox.ledger.debits()
    assert {e.reference for e in debits} == accepted
    assert len(debits) == len(accepted)
    assert all(codes.count(202) <= 1 for codes in answers.values())
    money_after = (
        sum(w.balance_minor for w in world.wallets) + mtn_sandbox.config.merchant_balance_minor
    )
    assert money_after == money_before
    assert accepted  # the faults did not stop everything
