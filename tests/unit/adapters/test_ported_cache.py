"""The gateway wrapper that remembers where ported numbers live."""

from __future__ import annotations

from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.providers.ported import PortedNumberCache
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId

NUMBER = Msisdn.parse("0241234567")  # an MTN prefix, living on Telecel


async def test_a_number_found_active_costs_no_second_lookup() -> None:
    """After one lookup found the number on Telecel, both networks are answered from memory."""
    fake = FakeProviderGateway(ported={NUMBER.e164: ProviderId.TELECEL})
    cache = PortedNumberCache(fake)
    first = await cache.lookup(ProviderId.TELECEL, NUMBER)
    asked = len(fake.lookups)

    home = await cache.lookup(ProviderId.TELECEL, NUMBER)
    elsewhere = await cache.lookup(ProviderId.MTN, NUMBER)

    assert (first.active, home.active, elsewhere.active, asked) == (True, True, False, 1)
    assert asked == len(fake.lookups)


async def test_inactive_answers_are_not_remembered_and_the_size_is_bounded() -> None:
    """A "not here" answer is asked again next time; the oldest number leaves a full cache."""
    fake = FakeProviderGateway()
    cache = PortedNumberCache(fake, size=1)
    await cache.lookup(ProviderId.TELECEL, NUMBER)  # inactive: MTN prefix, not ported
    await cache.lookup(ProviderId.TELECEL, NUMBER)
    other = Msisdn.parse("0201234567")
    await cache.lookup(ProviderId.MTN, NUMBER)  # active: remembered
    await cache.lookup(ProviderId.TELECEL, other)  # active: remembered, NUMBER leaves
    await cache.lookup(ProviderId.MTN, NUMBER)

    assert len(fake.lookups) == 5
