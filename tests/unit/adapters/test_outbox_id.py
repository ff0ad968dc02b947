"""The outbox/event id is uuid5(OUTBOX_NAMESPACE, "<payment id>/<seq>"), whatever computes it."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from synccash.adapters.event_payload import OUTBOX_NAMESPACE, outbox_id


@given(st.text(min_size=1, max_size=80), st.integers(min_value=1, max_value=10**9))
def test_outbox_id_is_the_standard_uuid5(payment_id: str, seq: int) -> None:
    """Same string as the standard library's uuid5 for any payment id and sequence number
    (event ids are published and deduplicated on: they must never change)."""
    assert outbox_id(payment_id, seq) == str(uuid.uuid5(OUTBOX_NAMESPACE, f"{payment_id}/{seq}"))


def test_outbox_id_is_a_version_5_rfc_4122_uuid() -> None:
    """A known value, and the version and variant bits."""
    parsed = uuid.UUID(outbox_id("pay_1", 1))
    assert parsed.version == 5
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == str(uuid.uuid5(OUTBOX_NAMESPACE, "pay_1/1"))
