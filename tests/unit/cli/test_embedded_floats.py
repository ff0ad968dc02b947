"""Under `synccash serve` the books start with the float the embedded sandboxes hold."""

from __future__ import annotations

from datetime import UTC, datetime

from synccash.adapters.bootstrap import wire
from synccash.cli._embedded import SANDBOX_FLOAT, seed_sandbox_floats
from synccash.core.ledger import provider_float
from synccash.core.providers import ProviderId

AT = datetime(2026, 12, 8, tzinfo=UTC)


async def test_seeding_records_each_providers_sandbox_float_once() -> None:
    """Seeding twice (a restart) leaves one top-up per provider, equal to the sandbox's float."""
    ledger = wire().ledger
    assert ledger is not None
    await seed_sandbox_floats(ledger, AT)
    await seed_sandbox_floats(ledger, AT)
    for provider in ProviderId:
        assert await ledger.balance(provider_float(provider)) == SANDBOX_FLOAT
    assert SANDBOX_FLOAT.minor > 0
