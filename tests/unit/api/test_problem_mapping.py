"""Every domain error maps to one HTTP status in one place."""

from __future__ import annotations

import pytest
from api_helpers import assert_problem
from litestar.testing import AsyncTestClient

from synccash.api import create_app
from synccash.api.problems import domain_status
from synccash.core import errors


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidAmount, 422),
        (errors.AmountOutOfRange, 422),
        (errors.UnsupportedCurrency, 422),
        (errors.InvalidMsisdn, 422),
        (errors.UnknownProvider, 422),
        (errors.ValidationError, 422),
        (errors.PaymentNotFound, 404),
        (errors.PaymentNotCancellable, 409),
        (errors.PaymentNotRefundable, 409),
        (errors.IllegalTransition, 409),
        (errors.ConcurrencyConflict, 409),
        (errors.IdempotencyKeyReused, 422),
        (errors.IdempotencyKeyInFlight, 409),
        (errors.NoRouteAvailable, 422),
    ],
)
def test_domain_status(error, status):
    """The status table."""
    assert domain_status(error("x")) == status


class _RacingPayments:
    """Use-cases whose cancel always loses an optimistic-concurrency race."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def cancel(self, merchant_id, payment_id):
        raise errors.ConcurrencyConflict("payment changed; retry")


class _Container:
    def __init__(self, inner):
        self._inner = inner
        self.payments = _RacingPayments(inner.payments)

    def __getattr__(self, name):
        return getattr(self._inner, name)


async def test_concurrency_conflict_is_409(container, auth):
    """A lost race surfaces as a 409 concurrency_conflict problem."""
    async with AsyncTestClient(app=create_app(_Container(container))) as client:
        response = await client.post("/api/v1/payments/some-id/cancel", headers=auth())
    assert_problem(response, 409, "concurrency_conflict")


async def test_unexpected_errors_are_a_500_problem_without_details(container, auth):
    """A bug answers a 500 problem that leaks nothing."""

    class _Broken(_RacingPayments):
        async def get(self, merchant_id, payment_id):
            raise KeyError("secret internals")

    class _BrokenContainer(_Container):
        def __init__(self, inner):
            super().__init__(inner)
            self.payments = _Broken(inner.payments)

    async with AsyncTestClient(app=create_app(_BrokenContainer(container))) as client:
        response = await client.get("/api/v1/payments/x/status", headers=auth())
    problem = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert problem["detail"] == "internal error"
