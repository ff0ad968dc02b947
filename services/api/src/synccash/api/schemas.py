"""Request and response bodies of the merchant API (msgspec Structs, apart from domain objects).

Field names are part of the public contract (clients and scripts depend on
them). Amounts are always decimal strings such as "12.50"; unknown request
fields are rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta

#: Digits, optionally a point and one or two decimals: no sign, exponent or whitespace.
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?(?!\n)$"
#: Optional +, then digits with spaces, hyphens, points or parentheses between them; it
#: starts and ends with a digit (or an opening parenthesis), so "-241234567" is refused.
#: `(?!\n)` because Python's `$` (msgspec, jsonschema) also matches before a final newline.
MSISDN_PATTERN = r"^\+?\(?[0-9][0-9 ().-]*[0-9](?!\n)$"

AmountText = Annotated[
    str,
    Meta(
        description='Decimal string in the currency\'s units, at most 2 decimals, e.g. "12.50" '
        "(no sign, exponent or surrounding whitespace)",
        examples=["12.50"],
        pattern=AMOUNT_PATTERN,
    ),
]
MsisdnText = Annotated[
    str,
    Meta(
        description="Ghana mobile number: 0241234567, 233241234567 or +233 24 123 4567 "
        "(no sign, no surrounding whitespace)",
        examples=["0241234567"],
        max_length=32,
        pattern=MSISDN_PATTERN,
    ),
]
ProviderText = Annotated[
    str, Meta(description="mtn, airteltigo or telecel", examples=["mtn"], max_length=32)
]


# --- requests -----------------------------------------------------------------


class WalletIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One of the payer's wallets, optionally with a balance the merchant knows."""

    provider: ProviderText
    msisdn: MsisdnText
    balance: AmountText | None = None


class PayerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who pays; `wallets` defaults to the MSISDN on its detected network."""

    msisdn: MsisdnText
    wallets: Annotated[list[WalletIn], Meta(max_length=10)] | None = None


class PayeeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who receives: exactly one of a wallet MSISDN or the merchant's collection account."""

    #: Shown in OpenAPI as `oneOf` (the core refuses both or neither: 422 invalid_payee).
    __exactly_one_of__: ClassVar[tuple[str, ...]] = ("msisdn", "merchant_account")

    msisdn: MsisdnText | None = None
    merchant_account: Annotated[str, Meta(max_length=64)] | None = None


class InitiatePaymentRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/payments/initiate."""

    amount: AmountText
    payer: PayerIn
    payee: PayeeIn
    currency: Annotated[str, Meta(examples=["GHS"], max_length=8)] = "GHS"
    description: Annotated[str, Meta(max_length=255)] = ""
    reference: (
        Annotated[str, Meta(max_length=128, description="the merchant's own reference")] | None
    ) = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    webhook_url: Annotated[str, Meta(max_length=2048)] | None = None


class PayoutPayeeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who receives a payout: a wallet MSISDN on any network."""

    msisdn: MsisdnText


class CreatePayoutRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /payouts: money out from the merchant's available balance to a wallet."""

    amount: AmountText
    payee: PayoutPayeeIn
    currency: Annotated[str, Meta(examples=["GHS"], max_length=8)] = "GHS"
    provider: (
        Annotated[
            str,
            Meta(
                description="The payee's network (mtn, airteltigo, telecel); default: the number's "
                "prefix, and for a ported number the network whose account-holder lookup knows it",
                max_length=32,
            ),
        ]
        | None
    ) = None
    expected_name: (
        Annotated[
            str,
            Meta(
                description="Checked against the provider's account-holder name before any money "
                "moves (case, accents, punctuation and word order ignored); 422 name_mismatch",
                examples=["Kofi Mensah"],
                max_length=255,
            ),
        ]
        | None
    ) = None
    description: Annotated[str, Meta(max_length=255)] = ""
    reference: Annotated[str, Meta(max_length=255)] | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    webhook_url: Annotated[str, Meta(max_length=2048)] | None = None


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/payments/{id}/refund; no amount means a full refund."""

    amount: AmountText | None = None


class RouteQuoteRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/routing/quote: the same shape as initiate, nothing is stored."""

    amount: AmountText
    payer: PayerIn
    payee: PayeeIn  # required: a quote prices a payment to someone (fees depend on the payee)
    currency: Annotated[str, Meta(examples=["GHS"], max_length=8)] = "GHS"


# --- responses ----------------------------------------------------------------


class WalletOut(msgspec.Struct, kw_only=True):
    """A wallet in a response."""

    provider: str
    msisdn: str
    balance: str | None = None


class PayerOut(msgspec.Struct, kw_only=True):
    """The payer as stored (normalised MSISDN)."""

    msisdn: str
    wallets: list[WalletOut]


class PayeeOut(msgspec.Struct, kw_only=True):
    """The payee as stored."""

    msisdn: str | None = None
    merchant_account: str | None = None


class AttemptOut(msgspec.Struct, kw_only=True):
    """One provider attempt (summary)."""

    seq: int
    reference: str
    provider: str
    kind: str
    status: str
    amount: str
    error_code: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class PaymentLinks(msgspec.Struct, kw_only=True):
    """Where to go next with this payment."""

    self_: str = msgspec.field(name="self")
    status: str
    cancel: str
    refund: str


class EventOut(msgspec.Struct, kw_only=True):
    """One audit-trail entry."""

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]


class RiskReasonOut(msgspec.Struct, kw_only=True):
    """One fraud rule that fired."""

    code: str
    message: str
    score: int


class RiskOut(msgspec.Struct, kw_only=True):
    """The fraud rules' assessment of a payment: total score, decision and every reason."""

    score: int
    decision: Annotated[str, Meta(description="allow, review or block")]
    reasons: list[RiskReasonOut]


class PaymentResource(msgspec.Struct, kw_only=True):
    """A payment as the merchant sees it."""

    id: str
    kind: Annotated[
        str,
        Meta(
            description="collection (one COLLECT leg), transfer (COLLECT then DISBURSE to the "
            "payee's wallet) or payout (one DISBURSE leg); `attempts` lists each leg's tries",
            examples=["collection"],
        ),
    ]
    state: Annotated[
        str,
        Meta(
            description="INITIATED, VALIDATING, PENDING, PROCESSING, CONFIRMED, FAILED, EXPIRED, CANCELLED or REFUNDED"
        ),
    ]
    amount: str
    currency: str
    provider: str | None
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    payer: PayerOut
    payee: PayeeOut
    description: str
    reference: str | None
    metadata: dict[str, Any]
    webhook_url: str | None
    fee: str
    fee_quote: dict[str, Any] | None
    refunded_amount: str
    flagged_for_review: bool
    risk: RiskOut | None
    route: list[WalletOut]
    routing: dict[str, Any] | None
    attempts: list[AttemptOut]
    links: PaymentLinks


class PaymentDetail(PaymentResource, kw_only=True):
    """A payment with its full audit trail (GET /api/v1/payments/{id})."""

    events: list[EventOut]


class PaymentStatus(msgspec.Struct, kw_only=True):
    """GET /api/v1/payments/{id}/status."""

    id: str
    kind: str
    state: str
    amount: str
    currency: str
    provider: str | None
    failure_code: str | None
    failure_reason: str | None
    attempts: list[AttemptOut]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    links: PaymentLinks


class ListLinks(msgspec.Struct, kw_only=True):
    """Pagination links."""

    next: str | None


class PaymentList(msgspec.Struct, kw_only=True):
    """A page of the merchant's payments, newest first."""

    items: list[PaymentResource]
    next_cursor: str | None
    links: ListLinks


class RouteQuote(msgspec.Struct, kw_only=True):
    """What the router would choose now, with fees and the full explanation."""

    amount: str
    currency: str
    provider: str | None = msgspec.field(default=None)
    fee: dict[str, Any] | None = None
    decision: dict[str, Any] = msgspec.field(default_factory=dict)
    risk: dict[str, Any] | None = None


class ReportBucket(msgspec.Struct, kw_only=True):
    """Counts and sums for one state or provider."""

    count: int
    amount: str
    fees: str


class DailyReportOut(msgspec.Struct, kw_only=True):
    """GET /api/v1/reports/daily."""

    merchant_id: str
    date: str
    total_count: int
    total_amount: str
    total_fees: str
    confirmed_count: int
    success_rate: float
    by_state: dict[str, ReportBucket]
    by_provider: dict[str, ReportBucket]


class ReviewDecisionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """POST /api/v1/reviews/{payment_id}/approve or /decline."""

    note: Annotated[str, Meta(max_length=500)] = ""


class ReviewOut(msgspec.Struct, kw_only=True):
    """A decision on a flagged payment, and where the payment stands after it."""

    payment_id: str
    merchant_id: str
    decision: Annotated[str, Meta(description="approved or declined")]
    decided_by: str
    decided_at: datetime
    note: str
    payment_state: str
    cancelled: Annotated[
        bool, Meta(description="a decline cancelled the payment (only before a provider has it)")
    ]


class ReviewItem(msgspec.Struct, kw_only=True):
    """A flagged payment waiting for a decision."""

    payment: PaymentResource


class ReviewList(msgspec.Struct, kw_only=True):
    """GET /api/v1/reviews: flagged payments without a decision, oldest first."""

    items: list[ReviewItem]


class BlockEntryIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """PUT /api/v1/blocklist/{entry}."""

    reason: Annotated[str, Meta(min_length=1, max_length=500)]


class BlockEntryOut(msgspec.Struct, kw_only=True):
    """A blocklist entry: a normalised MSISDN (233…) or a payee key (acct:…)."""

    entry: str
    reason: str


class BlockList(msgspec.Struct, kw_only=True):
    """GET /api/v1/blocklist."""

    items: list[BlockEntryOut]


class AuditOut(msgspec.Struct, kw_only=True):
    """One change to the risk set-up."""

    id: str
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


class AuditList(msgspec.Struct, kw_only=True):
    """GET /api/v1/risk/audit: newest first."""

    items: list[AuditOut]


class CallbackAck(msgspec.Struct, kw_only=True):
    """The answer to every provider callback."""

    received: bool = True


class HealthOut(msgspec.Struct, kw_only=True):
    """Cheap health answer."""

    status: str


class CheckOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One dependency check."""

    status: str
    latency_ms: float | None = None
    error: str | None = None
    detail: dict[str, Any] | None = None


class DetailedHealthOut(msgspec.Struct, kw_only=True):
    """Every dependency with its latency, and the overall status."""

    status: str
    checks: dict[str, CheckOut]
