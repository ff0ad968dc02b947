"""Use-case inputs: the policy from settings and the validation of raw request values."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from attrs import field, frozen

from synccash.core.commands import (
    WalletInput,
)
from synccash.core.errors import (
    AmountOutOfRange,
    ValidationError,
)
from synccash.core.fraud import DEFAULT_FRAUD_POLICY, FraudPolicy
from synccash.core.lifecycle import LifecyclePolicy
from synccash.core.money import Money, check_currency
from synccash.core.msisdn import Msisdn
from synccash.core.payment import (
    Payee,
    Payment,
    Wallet,
)
from synccash.core.providers import ProviderId
from synccash.core.retry import BackoffPolicy

MAX_TEXT: Final = 255
MAX_DESCRIPTION: Final = 500
_MAX_METADATA_ITEMS: Final = 200
_MAX_METADATA_DEPTH: Final = 5


@frozen
class PaymentPolicy:
    """Limits and timings the use-cases enforce (from settings)."""

    min_amount: Money = Money(100)
    max_amount: Money = Money(2_500_000)
    timeout: timedelta = timedelta(seconds=900)
    backoff: BackoffPolicy = field(factory=BackoffPolicy)
    fraud: FraudPolicy = DEFAULT_FRAUD_POLICY
    callback_base_url: str | None = None  # e.g. https://api.synccash.example/api/v1/callbacks
    #: a payment whose every provider's circuit is open looks for a half-open probe this often
    circuit_wait: timedelta = timedelta(seconds=5)
    #: a payout leg our float cannot cover looks again this often (until it is topped up)
    float_wait: timedelta = timedelta(seconds=30)

    @property
    def lifecycle(self) -> LifecyclePolicy:
        """What the lifecycle's decisions need of this policy."""
        return LifecyclePolicy(
            backoff=self.backoff,
            circuit_wait=self.circuit_wait,
            float_wait=self.float_wait,
            callback_base_url=self.callback_base_url,
        )


# --------------------------------------------------------------------------- parsing
def parse_wallets(
    payer: Msisdn, wallets: Sequence[WalletInput], currency: str
) -> tuple[Wallet, ...]:
    """Validate the payer's wallets; default to the payer MSISDN on its detected network."""
    if not wallets:
        return (Wallet(payer.network_hint, payer),)
    parsed: list[Wallet] = []
    seen: set[tuple[ProviderId, str]] = set()
    parse_provider = ProviderId.parse  # looked up once: attribute access on an Enum is slow
    for raw in wallets:
        provider = parse_provider(raw.provider)
        msisdn = Msisdn.parse(raw.msisdn)
        balance = None if raw.balance is None else Money.parse(raw.balance, currency)
        key = (provider, msisdn.e164)
        if key in seen:
            raise ValidationError(
                f"wallet {provider.value}:{msisdn.masked} is listed twice", code="duplicate_wallet"
            )
        seen.add(key)
        parsed.append(Wallet(provider, msisdn, balance))
    return tuple(parsed)


def parse_payee(msisdn: str | None, account: str | None) -> Payee:
    """Exactly one of a wallet MSISDN or the merchant's own account."""
    if (msisdn is None) == (account is None):
        raise ValidationError(
            "payee must have exactly one of 'msisdn' or 'merchant_account'", code="invalid_payee"
        )
    if msisdn is not None:
        return Payee(msisdn=Msisdn.parse(msisdn))
    assert account is not None  # noqa: S101  (narrowing for mypy; checked above)
    if not account.strip() or len(account) > MAX_TEXT:
        raise ValidationError("merchant_account must be 1-255 characters", code="invalid_payee")
    return Payee(merchant_account=account.strip())


def parse_amount(raw: str, currency: str, policy: PaymentPolicy) -> Money:
    check_currency(currency)
    amount = Money.parse(raw, currency)
    low, high = policy.min_amount, policy.max_amount
    if amount.currency == low.currency == high.currency and low.minor <= amount.minor <= high.minor:
        return amount  # the usual case, by plain int compares; errors come from the check below
    if amount < policy.min_amount or amount > policy.max_amount:
        raise AmountOutOfRange(
            f"amount {amount.to_decimal_string()} is outside the allowed range "
            f"{policy.min_amount.to_decimal_string()}-{policy.max_amount.to_decimal_string()} {currency}"
        )
    return amount


def _has_control(value: str) -> bool:
    # NUL and other C0 controls (but tab/newline) cannot be stored or shown safely;
    # PostgreSQL text and jsonb refuse U+0000 outright.
    return any(ord(ch) < 0x20 and ch not in "\t\n\r" for ch in value)


def check_text(name: str, value: str | None, limit: int = MAX_TEXT) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise ValidationError(f"{name} must be at most {limit} characters", code=f"invalid_{name}")
    if _has_control(value):
        raise ValidationError(
            f"{name} must not contain control characters such as NUL", code=f"invalid_{name}"
        )


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """Metadata is the merchant's JSON object: bounded, and storable in every database."""
    if not metadata:  # the usual case: nothing to walk
        return
    budget = [_MAX_METADATA_ITEMS]

    def walk(value: object, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > _MAX_METADATA_DEPTH:
            raise ValidationError(
                f"metadata must have at most {_MAX_METADATA_ITEMS} values and "
                f"{_MAX_METADATA_DEPTH} levels",
                code="invalid_metadata",
            )
        if isinstance(value, str):
            if len(value) > MAX_DESCRIPTION or _has_control(value):
                raise ValidationError(
                    "metadata strings must be at most 500 characters without control characters",
                    code="invalid_metadata",
                )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(str(key), depth + 1)
                walk(item, depth + 1)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, depth + 1)

    walk(metadata, 0)


def check_webhook(url: str | None) -> None:
    if url is None:
        return
    if (
        not url.startswith(("https://", "http://"))
        or len(url) > 2048
        or " " in url
        or _has_control(url)
    ):
        raise ValidationError(
            "webhook_url must be an http(s) URL of at most 2048 characters",
            code="invalid_webhook_url",
        )


def routing_seed(payment: Payment) -> int:
    return (int(uuid.UUID(payment.id)) & 0xFFFFFFFF) ^ len(payment.attempts)
