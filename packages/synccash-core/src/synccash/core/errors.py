"""Domain errors: every bad input or illegal action raises one, with a stable code.

Entry points map these to HTTP problems / CLI exit codes in exactly one place each.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every SyncCash domain error; `code` is stable and machine-readable."""

    code: str = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    """Input that can never be accepted as given (fix the request)."""

    code = "validation_error"


class InvalidAmount(ValidationError):
    """An amount string or value that is not a valid money amount."""

    code = "invalid_amount"


class AmountOutOfRange(ValidationError):
    """A valid amount outside the allowed minimum/maximum."""

    code = "amount_out_of_range"


class UnsupportedCurrency(ValidationError):
    """A currency other than the ones SyncCash settles in."""

    code = "unsupported_currency"


class CurrencyMismatch(DomainError):
    """Arithmetic or comparison across two currencies."""

    code = "currency_mismatch"


class InvalidMsisdn(ValidationError):
    """A phone number that is not a Ghana mobile number."""

    code = "invalid_msisdn"


class UnknownProvider(ValidationError):
    """A provider id that is not one of mtn, airteltigo, telecel."""

    code = "unknown_provider"


class IllegalTransition(DomainError):
    """A payment state change that the state machine does not allow."""

    code = "illegal_transition"


class PaymentNotCancellable(IllegalTransition):
    """Cancel requested while money may be moving (an attempt is at a provider) or after the end."""

    code = "payment_not_cancellable"


class PaymentNotRefundable(IllegalTransition):
    """Refund requested for a payment that is not CONFIRMED, or beyond what was paid."""

    code = "payment_not_refundable"


class PaymentNotFound(DomainError):
    """No payment with that id for this merchant."""

    code = "payment_not_found"


class ConcurrencyConflict(DomainError):
    """Optimistic concurrency: the payment changed since it was read; reload and retry."""

    code = "concurrency_conflict"


class IdempotencyKeyReused(DomainError):
    """The same idempotency key was sent with a different request."""

    code = "idempotency_key_reused"


class IdempotencyKeyInFlight(DomainError):
    """The first request with this idempotency key is still being processed."""

    code = "idempotency_key_in_flight"


class NoRouteAvailable(DomainError):
    """Every provider was filtered out; the explanation says why."""

    code = "no_route_available"


class InsufficientBalance(DomainError):
    """A guarded ledger account (a merchant's available balance, a provider float) cannot
    cover a payout, refund or disbursement; the store refused it and wrote nothing."""

    code = "insufficient_balance"


class UnbalancedEntry(ValidationError):
    """A journal entry whose postings do not sum to zero per currency (a bug, never input)."""

    code = "unbalanced_entry"


class NameMismatch(ValidationError):
    """The payee wallet's account-holder name is not the `expected_name` of a payout."""

    code = "name_mismatch"


class PayeeNotFound(ValidationError):
    """No network knows the payee's number as an active wallet (checked before money moves)."""

    code = "payee_not_found"


class NameCheckUnavailable(DomainError):
    """The provider's account-holder lookup gave no answer; the payout was not accepted."""

    code = "name_check_unavailable"
