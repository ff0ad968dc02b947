"""The callback window holds across API processes: it is a Redis lock (issue 16.7)."""

from __future__ import annotations

import uuid

import pytest

from synccash.adapters.bootstrap import bootstrap
from synccash.adapters.providers.callbacks import CallbackHint
from synccash.api.callback_gate import CallbackGate, Verdict
from synccash.core.outcomes import OutcomeKind
from synccash.core.providers import ProviderId

pytestmark = pytest.mark.integration


async def test_two_processes_share_the_coalescing_window(container):
    """100 callbacks for one attempt over two containers (two Redis clients): one admitted."""
    reference = str(uuid.uuid4())
    hint = CallbackHint(ProviderId.MTN, reference, OutcomeKind.SUCCEEDED)
    async with bootstrap(container.settings) as other:
        gates = [
            (CallbackGate(container.settings.callbacks), container.locks),
            (CallbackGate(other.settings.callbacks), other.locks),
        ]
        verdicts = [await gate.admit(locks, hint) for _ in range(50) for gate, locks in gates]
        news = await gates[1][0].admit(
            gates[1][1], CallbackHint(ProviderId.MTN, reference, OutcomeKind.FAILED)
        )
    assert (
        verdicts.count(Verdict.ADMITTED),
        verdicts.count(Verdict.COALESCED),
        news,
    ) == (1, 99, Verdict.ADMITTED)
