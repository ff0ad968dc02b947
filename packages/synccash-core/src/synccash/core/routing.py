"""Provider selection for a payment: hard filters, a score, seeded exploration, an explanation.

Order of decisions (orchestrator-practices §5-6):

1. Hard filters per payer wallet, in this order, each with a stable code:
   `disallowed` (merchant said no), `capability` (provider cannot collect),
   `amount_limits` (per-transaction limits), `circuit_open`, `fee_rule_missing`,
   `insufficient_balance` (known balance < amount + all fees), `eliminated`
   (success probability under `min_success`, or more than `elimination_gap`
   below the best remaining wallet's provider).
2. Score of each remaining wallet (higher is better)::

       score = w_success * p  -  w_cost * total_fee / amount
               -  w_latency * p95_seconds  +  w_preference * preference

   With w_success = w_cost = 1 this is the expected value per unit of amount,
   `p * (1 - fee share)` to first order (the EV rule of §6), adjusted for
   latency and the merchant's preference order. Ties keep the payer's wallet order.
3. Exploration: with probability `exploration_share` a non-best eligible
   wallet (uniformly among the others) is promoted to first, so a recovering
   provider keeps getting some traffic. The draw is a pure function of the
   seed (SplitMix64), so the same request and seed always give the same
   decision. (`random.Random(seed)` would cost ~6 µs per decision, more than all
   the rest of it.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from attrs import frozen

from synccash.core.errors import ValidationError
from synccash.core.fees import FeeBook, FeeQuote, FeeRuleMissing, TransferKind, default_fee_book
from synccash.core.money import Money
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId, ProviderProfile
from synccash.core.reliability import CircuitState, ProviderHealth

_M64: Final = (1 << 64) - 1
_ZERO: Final = Money(0)


def seeded_uniform(seed: int, stream: int = 0) -> float:
    """A deterministic draw in [0, 1) from a seed and a stream number (one SplitMix64 step)."""
    z = (seed + stream * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return (z ^ (z >> 31)) / 18446744073709551616.0


@frozen
class RoutingPolicy:
    """Weights and thresholds of the router."""

    success_weight: float = 1.0
    cost_weight: float = 1.0  # per unit of total fee / amount
    latency_weight: float = 0.002  # per second of p95 latency (10 s ≈ 2 points of success)
    preference_weight: float = 0.02  # first preferred provider gets the full weight
    exploration_share: float = 0.05
    elimination_gap: float = 0.3
    min_success: float = 0.2
    default_success: float = 0.95  # a provider with no health entry at all
    default_latency_ms: int = 2_000

    def __attrs_post_init__(self) -> None:
        weights = (self.success_weight, self.cost_weight, self.latency_weight)
        if min(*weights, self.preference_weight, self.elimination_gap) < 0:
            raise ValidationError(
                "routing weights and the elimination gap must be >= 0", code="invalid_policy"
            )
        for name in ("exploration_share", "min_success", "default_success"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(
                    f"routing {name} must be within [0, 1]", code="invalid_policy"
                )

    def explain(self) -> dict[str, float]:
        """The policy as JSON-ready numbers."""
        return {
            "success_weight": self.success_weight,
            "cost_weight": self.cost_weight,
            "latency_weight": self.latency_weight,
            "preference_weight": self.preference_weight,
            "exploration_share": self.exploration_share,
            "elimination_gap": self.elimination_gap,
            "min_success": self.min_success,
        }


@frozen
class RoutingRequest:
    """One payment to route: the payer's wallets, the payee and the merchant's preferences."""

    amount: Money
    wallets: tuple[Wallet, ...]
    payee: Payee
    on: date
    preferred: tuple[ProviderId, ...] = ()
    disallowed: frozenset[ProviderId] = frozenset()
    payer_sent_today: Money = _ZERO

    @property
    def merchant_payment(self) -> bool:
        """True when the payee is a merchant account (no payer levy; merchant tariff)."""
        return self.payee.merchant_account is not None

    @property
    def payee_network(self) -> ProviderId | None:
        """The payee wallet's network hint (a prior only: numbers are portable)."""
        msisdn = self.payee.msisdn
        return None if msisdn is None else msisdn.network_hint


@frozen
class Candidate:
    """An eligible wallet with its fee, health and score."""

    wallet: Wallet
    fee: FeeQuote
    success_probability: float
    latency_ms: int
    score: float
    factors: Mapping[str, float]

    def explain(self) -> dict[str, Any]:
        """JSON-ready: the wallet, every factor, the score and the itemised fee."""
        return {
            "provider": self.wallet.provider.value,
            "msisdn": self.wallet.msisdn.masked,
            "score": self.score,
            "success_probability": self.success_probability,
            "latency_ms": self.latency_ms,
            "factors": dict(self.factors),
            "fee": self.fee.explain(),
        }


@frozen
class Rejection:
    """A wallet the hard filters removed, and why."""

    wallet: Wallet
    code: str
    message: str

    def explain(self) -> dict[str, Any]:
        """JSON-ready: the wallet, the stable code and the message."""
        return {
            "provider": self.wallet.provider.value,
            "msisdn": self.wallet.msisdn.masked,
            "code": self.code,
            "message": self.message,
        }


@frozen
class RoutingDecision:
    """Ranked candidates (best first, after exploration), rejections, and how it was decided."""

    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]
    explored: bool
    seed: int
    policy: RoutingPolicy | None = None

    @property
    def chosen(self) -> Candidate | None:
        """The wallet to try first, if any wallet is eligible."""
        return self.candidates[0] if self.candidates else None

    @property
    def approach(self) -> str:
        """exploit (best score first), explore (promoted by the exploration share) or none."""
        if not self.candidates:
            return "none"
        return "explore" if self.explored else "exploit"

    def explain(self) -> dict[str, Any]:
        """JSON-ready: every candidate with every factor, and every rejection with why."""
        chosen = self.chosen
        return {
            "approach": self.approach,
            "seed": self.seed,
            "explored": self.explored,
            "chosen": None if chosen is None else chosen.wallet.provider.value,
            "candidates": [c.explain() for c in self.candidates],
            "rejected": [r.explain() for r in self.rejected],
            "policy": None if self.policy is None else self.policy.explain(),
        }


@frozen
class _Context:
    """What every filter of one request reads: the request, health and transfer kinds."""

    request: RoutingRequest
    health: Mapping[ProviderId, ProviderHealth]
    own_kind: TransferKind  # paying a payee on the wallet's own network (or a merchant)
    other_kind: TransferKind  # paying a payee on another network

    def kind(self, provider: ProviderId) -> TransferKind:
        """The transfer kind of paying this request's payee from a wallet at `provider`."""
        network = self.request.payee_network
        return self.own_kind if network is None or network is provider else self.other_kind


class Router:
    """Ranks a payer's wallets for one payment. Pure and deterministic for a given seed."""

    def __init__(
        self,
        profiles: Mapping[ProviderId, ProviderProfile] = DEFAULT_PROFILES,
        fee_book: FeeBook | None = None,
        policy: RoutingPolicy | None = None,
    ) -> None:
        """Use the given provider profiles, fee book (default: seed values) and policy."""
        self._profiles = dict(profiles)
        self._fees = fee_book if fee_book is not None else default_fee_book()
        self._policy = policy if policy is not None else RoutingPolicy()

    @property
    def policy(self) -> RoutingPolicy:
        """The routing policy in use."""
        return self._policy

    @property
    def fee_book(self) -> FeeBook:
        """The fee book quotes come from."""
        return self._fees

    def decide(
        self,
        request: RoutingRequest,
        health: Mapping[ProviderId, ProviderHealth],
        seed: int,
    ) -> RoutingDecision:
        """Filter, score and rank the request's wallets; see the module docstring."""
        self._fees.check_quotable(request.amount, request.payer_sent_today)
        if request.merchant_payment:
            ctx = _Context(request, health, _MERCHANT, _MERCHANT)
        else:
            ctx = _Context(request, health, TransferKind.SAME_NETWORK, TransferKind.CROSS_NETWORK)
        candidates: list[Candidate] = []
        rejected: list[Rejection] = []
        for wallet in request.wallets:
            screened = self._screen(wallet, ctx)
            if isinstance(screened, Rejection):
                rejected.append(screened)
            else:
                candidates.append(screened)
        candidates, far = _drop_far_below_best(candidates, self._policy.elimination_gap)
        rejected += far
        candidates.sort(key=_best_score_first)  # stable: ties keep the payer's wallet order
        ranked, explored = self._explore(_probation_last(candidates, health), seed)
        return RoutingDecision(tuple(ranked), tuple(rejected), explored, seed, self._policy)

    def _screen(self, wallet: Wallet, ctx: _Context) -> Candidate | Rejection:
        """The wallet's hard filters in order (module docstring), then its score."""
        for check in _BEFORE_QUOTE:
            rejection = check(self, wallet, ctx)
            if rejection is not None:
                return rejection
        try:
            fee = self._fees.quote_checked(
                wallet.provider,
                ctx.kind(wallet.provider),
                ctx.request.amount,
                ctx.request.on,
                ctx.request.payer_sent_today,
            )[0]
        except FeeRuleMissing as exc:
            return Rejection(wallet, exc.code, exc.message)
        for after in _AFTER_QUOTE:
            rejection = after(self, wallet, ctx, fee)
            if rejection is not None:
                return rejection
        return self._score(wallet, fee, ctx)

    def _score(self, wallet: Wallet, fee: FeeQuote, ctx: _Context) -> Candidate:
        policy = self._policy
        success, latency = _success_and_latency(policy, ctx.health.get(wallet.provider))
        amount = ctx.request.amount.minor
        cost = fee.total_fee_minor / amount if amount else 0.0
        preferred = ctx.request.preferred
        preference = 0.0
        if wallet.provider in preferred:
            preference = (len(preferred) - preferred.index(wallet.provider)) / len(preferred)
        latency_s = latency / 1000
        score = (
            policy.success_weight * success
            - policy.cost_weight * cost
            - policy.latency_weight * latency_s
            + policy.preference_weight * preference
        )
        factors = {"success": success, "cost": cost, "latency_s": latency_s}
        factors["preference"] = preference
        return Candidate(wallet, fee, success, latency, score, factors)

    def _explore(self, ranked: list[Candidate], seed: int) -> tuple[list[Candidate], bool]:
        """With probability `exploration_share`, promote a uniformly drawn non-best wallet."""
        if len(ranked) < 2 or seeded_uniform(seed, 0) >= self._policy.exploration_share:
            return ranked, False
        pick = 1 + int(seeded_uniform(seed, 1) * (len(ranked) - 1))
        return [ranked[pick], *ranked[:pick], *ranked[pick + 1 :]], True


_MERCHANT: Final = TransferKind.MERCHANT_PAYMENT


def _success_and_latency(policy: RoutingPolicy, health: ProviderHealth | None) -> tuple[float, int]:
    if health is None:
        return policy.default_success, policy.default_latency_ms
    return health.success_rate, health.p95_latency_ms


def _best_score_first(candidate: Candidate) -> float:
    return -candidate.score


def _probation_last(
    candidates: list[Candidate], health: Mapping[ProviderId, ProviderHealth]
) -> list[Candidate]:
    """Half-open providers after the others.

    A half-open provider is on probation: it must not take all the traffic the moment
    its cool-down ends. It goes last (still a failover target) and gets first place
    only through the exploration draw, i.e. as a probe, or when it is all there is.
    """
    probation = [c for c in candidates if _half_open(health.get(c.wallet.provider))]
    if not probation or len(probation) == len(candidates):
        return candidates
    return [c for c in candidates if c not in probation] + probation


def _half_open(health: ProviderHealth | None) -> bool:
    return health is not None and health.circuit is CircuitState.HALF_OPEN


def _drop_far_below_best(
    candidates: list[Candidate], gap: float
) -> tuple[list[Candidate], list[Rejection]]:
    """Eliminate candidates more than `gap` below the best remaining success estimate."""
    if len(candidates) < 2:
        return candidates, []
    best = max(c.success_probability for c in candidates)
    floor = best - gap
    kept = [c for c in candidates if c.success_probability >= floor]
    far = [_far_below_best(c, gap, best) for c in candidates if c.success_probability < floor]
    return kept, far


# The hard filters, in order: each returns None (passes) or the wallet's rejection.
def _disallowed(router: Router, wallet: Wallet, ctx: _Context) -> Rejection | None:  # noqa: ARG001
    if wallet.provider not in ctx.request.disallowed:
        return None
    return Rejection(wallet, "disallowed", f"the merchant does not accept {wallet.provider}")


def _capability(router: Router, wallet: Wallet, ctx: _Context) -> Rejection | None:  # noqa: ARG001
    profile = router._profiles.get(wallet.provider)  # noqa: SLF001
    if profile is not None and Capability.COLLECT in profile.capabilities:
        return None
    return Rejection(wallet, "capability", f"{wallet.provider} cannot collect payments")


def _amount_limits(router: Router, wallet: Wallet, ctx: _Context) -> Rejection | None:
    profile = router._profiles[wallet.provider]  # noqa: SLF001
    if profile.min_amount <= ctx.request.amount <= profile.max_amount:
        return None
    return Rejection(
        wallet,
        "amount_limits",
        f"{wallet.provider} takes GHS {profile.min_amount.to_decimal_string()} to "
        f"{profile.max_amount.to_decimal_string()} per transaction",
    )


def _circuit_open(router: Router, wallet: Wallet, ctx: _Context) -> Rejection | None:  # noqa: ARG001
    health = ctx.health.get(wallet.provider)
    if health is None or health.circuit is not CircuitState.OPEN:
        return None
    return Rejection(wallet, "circuit_open", f"{wallet.provider} is failing; circuit open")


def _short_of_funds(
    router: Router,  # noqa: ARG001
    wallet: Wallet,
    ctx: _Context,
    fee: FeeQuote,
) -> Rejection | None:
    balance = wallet.balance
    if balance is None or balance.minor >= ctx.request.amount.minor + fee.total_fee_minor:
        return None
    return Rejection(
        wallet,
        "insufficient_balance",
        f"known balance {balance.to_decimal_string()} is below amount + fees "
        f"{fee.payer_total.to_decimal_string()}",
    )


def _below_minimum(
    router: Router,
    wallet: Wallet,
    ctx: _Context,
    fee: FeeQuote,  # noqa: ARG001
) -> Rejection | None:
    policy = router.policy
    success, _ = _success_and_latency(policy, ctx.health.get(wallet.provider))
    if success >= policy.min_success:
        return None
    return Rejection(
        wallet,
        "eliminated",
        f"{wallet.provider} success rate {success:.2f} is below the minimum "
        f"{policy.min_success:.2f}",
    )


_BEFORE_QUOTE: Final = (_disallowed, _capability, _amount_limits, _circuit_open)
_AFTER_QUOTE: Final = (_short_of_funds, _below_minimum)


def _far_below_best(candidate: Candidate, gap: float, best: float) -> Rejection:
    return Rejection(
        candidate.wallet,
        "eliminated",
        f"{candidate.wallet.provider} success rate {candidate.success_probability:.2f} is more "
        f"than {gap:.2f} below the best ({best:.2f})",
    )
