"""What the API returns, as small typed values (the full JSON stays in `raw`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Payment:
    """A payment (or payout) resource. Amounts are `Decimal`s parsed from the API's strings."""

    id: str
    state: str
    amount: Decimal
    currency: str
    provider: str | None
    failure_code: str | None
    reference: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def is_final(self) -> bool:
        """Nothing will change any more except, for CONFIRMED, a refund."""
        return self.state in {"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED", "REFUNDED"}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Payment:
        """From the API's JSON (status and full resources both carry these fields)."""
        return cls(
            id=str(document["id"]),
            state=str(document["state"]),
            amount=Decimal(str(document["amount"])),
            currency=str(document.get("currency", "GHS")),
            provider=document.get("provider"),
            failure_code=document.get("failure_code"),
            reference=document.get("reference"),
            raw=dict(document),
        )


@dataclass(frozen=True)
class Page:
    """One page of a list, and the cursor of the next (None on the last page)."""

    items: Sequence[Payment]
    next_cursor: str | None
