"""A cancel that loses a race with the worker answers from the fresh state, never a conflict."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Self

import attrs
import pytest

from synccash.adapters.bootstrap import Container, memory_storage, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.core.commands import InitiatePayment
from synccash.core.errors import PaymentNotCancellable
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import PaymentState
from synccash.core.ports import UnitOfWorkFactory
from synccash.core.routing import Router, RoutingPolicy

MTN = "0241234567"


class _RacingRepository:
    """The unit's repository; the first read of a payment lets the worker move it first."""

    def __init__(self, inner: Any, race: _Race) -> None:
        self._inner = inner
        self._race = race

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, payment_id: str, merchant_id: str | None = None) -> Any:
        found = await self._inner.get(payment_id, merchant_id)
        await self._race.run_once()
        return found  # a copy older than what the worker stores meanwhile


class _RacingUnit:
    def __init__(self, inner: Any, race: _Race) -> None:
        self._inner = inner
        self.payments = _RacingRepository(inner.payments, race)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)


class _Race:
    """The worker's step to run between the cancel's read and its write, once."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner = inner
        self.step: Callable[[], Awaitable[None]] | None = None

    def __call__(self) -> Any:
        return _RacingUnit(self.inner(), self)

    async def run_once(self) -> None:
        step, self.step = self.step, None
        if step is not None:
            await step()


def _app(gateway: FakeProviderGateway) -> tuple[Container, _Race]:
    storage = memory_storage()
    race = _Race(storage.uow)
    router = Router(policy=RoutingPolicy(exploration_share=0.0))
    app = wire(
        storage=attrs.evolve(storage, uow=race),
        clock=ManualClock(),
        gateway=gateway,
        router=router,
    )
    return app, race


def _cmd() -> InitiatePayment:
    return InitiatePayment(
        merchant_id="m1",
        idempotency_key="k1",
        fingerprint="fp",
        amount="25.00",
        payer_msisdn=MTN,
        payee_msisdn="0551234567",
    )


async def test_a_cancel_that_loses_to_the_worker_sending_is_not_cancellable():
    """The worker sent the attempt between the cancel's read and write: not cancellable."""
    gateway = FakeProviderGateway()
    gateway.script(MTN, Script(status=(ProviderOutcome.pending("PENDING"),)))
    app, race = _app(gateway)
    payment = (await app.payments.initiate(_cmd())).payment
    race.step = lambda: app.lifecycle.advance(payment.id)
    with pytest.raises(PaymentNotCancellable):
        await app.payments.cancel("m1", payment.id)
    assert (await app.payments.get("m1", payment.id)).state is PaymentState.PROCESSING


async def test_a_cancel_that_loses_to_another_change_cancels_on_the_fresh_state():
    """Another cancel got there first: this one reads again and answers from that state."""
    app, race = _app(FakeProviderGateway())
    payment = (await app.payments.initiate(_cmd())).payment
    race.step = lambda: _cancel(app, payment.id)
    with pytest.raises(PaymentNotCancellable):
        await app.payments.cancel("m1", payment.id)
    assert (await app.payments.get("m1", payment.id)).state is PaymentState.CANCELLED


async def _cancel(app: Container, payment_id: str) -> None:
    await app.payments.cancel("m1", payment_id)
