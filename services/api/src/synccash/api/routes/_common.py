"""Shared pieces of route declarations: security requirement, documented errors, DTO helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from litestar.openapi.datastructures import ResponseSpec

from synccash.api.problems import problem_responses
from synccash.api.schemas import PaymentResource, WalletIn
from synccash.core.commands import WalletInput

#: Either credential (OpenAPI: alternatives are separate entries): a JWT or an API key.
BEARER: Final[list[dict[str, list[str]]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}]
#: Every merchant operation can answer these: bad parameters/headers, auth, rate limit.
AUTH_ERRORS: Final = (400, 401, 403, 429)


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Problem responses for bad parameters, auth and rate errors plus `statuses`."""
    return problem_responses(*sorted({*AUTH_ERRORS, *statuses}))


def replay_response() -> dict[int, ResponseSpec]:
    """The 200 answer to a replayed idempotent request."""
    return {
        200: ResponseSpec(
            data_container=PaymentResource,
            description="Replay: the payment created earlier with this Idempotency-Key "
            "(header Idempotent-Replayed: true)",
        )
    }


def wallet_inputs(wallets: Sequence[WalletIn] | None) -> tuple[WalletInput, ...]:
    """Request wallets -> core WalletInput values (validated by the use-case)."""
    return tuple(WalletInput(w.provider, w.msisdn, w.balance) for w in (wallets or ()))
