"""What a provider said about an attempt, in the core's own terms.

Provider clients map every status, error code and transport failure into one
`ProviderOutcome`. The money-safety rules hang on `OutcomeKind`:

- SUCCEEDED: the provider confirmed the money moved.
- PENDING: accepted, no final answer yet (e.g. waiting for the payer's approval): keep polling.
- FAILED: a definitive failure; `reason` says why and decides failover.
- TRANSIENT: nothing was created at the provider (connection refused before sending,
  429, token refresh): safe to resend *with the same reference*.
- NOT_FOUND: the status API says the reference was never accepted (MTN 404): safe to
  resend with the same reference.
- UNKNOWN: the request may have reached the provider (read timeout, 5xx after submit,
  ambiguous code): reconcile by status polling; never fail over, never compensate.
"""

from __future__ import annotations

import enum

from attrs import frozen


class OutcomeKind(enum.StrEnum):
    """The classes every provider answer is mapped into."""

    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"
    TRANSIENT = "transient"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


class FailureReason(enum.StrEnum):
    """Why a definitive failure happened; decides whether failover is allowed."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    PAYER_NOT_FOUND = "payer_not_found"
    PAYEE_NOT_FOUND = "payee_not_found"
    REJECTED_BY_PAYER = "rejected_by_payer"
    EXPIRED = "expired"  # the payer did not approve in time
    LIMIT_EXCEEDED = "limit_exceeded"
    NOT_ALLOWED = "not_allowed"  # account state: blocked, dormant, not allowed to receive
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    CONFIGURATION = "configuration"  # our setup: currency, environment, callback host
    INVALID_REQUEST = "invalid_request"
    OTHER = "other"


#: The payer decided (or failed to act): never fail over, the intent fails.
PAYER_DECISIONS: frozenset[FailureReason] = frozenset(
    {FailureReason.REJECTED_BY_PAYER, FailureReason.EXPIRED}
)


@frozen
class ProviderOutcome:
    """One provider answer (submit or status), classified."""

    kind: OutcomeKind
    reason: FailureReason | None = None
    provider_code: str | None = None  # the provider's own status/error code, for the audit trail
    message: str | None = None
    provider_transaction_id: str | None = None
    retry_after_seconds: float | None = None
    #: What the provider charged us for this attempt (pesewas), when its answer says so
    #: (Hubtel's `Charges` / `AmountAfterCharges`); None when the provider did not say.
    provider_charges_minor: int | None = None

    @classmethod
    def succeeded(
        cls, provider_transaction_id: str | None = None, code: str | None = None
    ) -> ProviderOutcome:
        """The provider confirmed the money moved."""
        return cls(
            OutcomeKind.SUCCEEDED,
            provider_code=code,
            provider_transaction_id=provider_transaction_id,
        )

    @classmethod
    def pending(cls, code: str | None = None, message: str | None = None) -> ProviderOutcome:
        """Accepted, no final answer yet."""
        return cls(OutcomeKind.PENDING, provider_code=code, message=message)

    @classmethod
    def failed(
        cls, reason: FailureReason, code: str | None = None, message: str | None = None
    ) -> ProviderOutcome:
        """A definitive failure."""
        return cls(OutcomeKind.FAILED, reason=reason, provider_code=code, message=message)

    @classmethod
    def transient(
        cls,
        code: str | None = None,
        message: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> ProviderOutcome:
        """Nothing created at the provider; resend with the same reference."""
        return cls(
            OutcomeKind.TRANSIENT,
            provider_code=code,
            message=message,
            retry_after_seconds=retry_after_seconds,
        )

    @classmethod
    def not_found(cls, code: str | None = None, message: str | None = None) -> ProviderOutcome:
        """The provider never accepted this reference."""
        return cls(OutcomeKind.NOT_FOUND, provider_code=code, message=message)

    @classmethod
    def unknown(cls, code: str | None = None, message: str | None = None) -> ProviderOutcome:
        """The request may have reached the provider; reconcile by polling."""
        return cls(OutcomeKind.UNKNOWN, provider_code=code, message=message)

    @property
    def is_final(self) -> bool:
        """True for SUCCEEDED and FAILED."""
        return self.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)

    @property
    def counts_against_provider(self) -> bool | None:
        """For health stats: True = provider failure, False = provider success, None = not the provider's doing."""
        if self.kind is OutcomeKind.SUCCEEDED:
            return False
        if self.kind is OutcomeKind.FAILED:
            if self.reason in (FailureReason.PROVIDER_UNAVAILABLE, FailureReason.OTHER):
                return True
            return None  # customer declines never count against a provider
        if self.kind in (OutcomeKind.UNKNOWN, OutcomeKind.TRANSIENT):
            return True
        return None
