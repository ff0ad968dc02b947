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

from attrs import fields, frozen

from synccash.core.errors import ValidationError
from synccash.core.fees import FeeBook, FeeQuote, FeeRuleMissing, TransferKind, default_fee_book
from synccash.core.money import Money
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId, ProviderProfile
from synccash.core.reliability import CircuitState, ProviderHealth

_M64: Final = (1 << 64) - 1
_ZERO: Final = Money(0)
# Enum members bound once: class attribute look-ups on an Enum cost ~0.1 µs each.
_OPEN: Final = CircuitState.OPEN
_HALF_OPEN: Final = CircuitState.HALF_OPEN
_SAME_NETWORK: Final = TransferKind.SAME_NETWORK
_CROSS_NETWORK: Final = TransferKind.CROSS_NETWORK
_MERCHANT_PAYMENT: Final = TransferKind.MERCHANT_PAYMENT


def _splitmix64(x: int) -> int:
    """One SplitMix64 output for the state x (a fast, well-mixed 64-bit hash)."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def seeded_uniform(seed: int, stream: int = 0) -> float:
    """A deterministic draw in [0, 1) from a seed and a stream number."""
    return _draw(seed, stream)


def _draw(seed: int, stream: int) -> float:
    # seeded_uniform with SplitMix64 inlined (one call instead of two per draw).
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


_new_object: Final = object.__new__
#: Candidate's slot setters in field order (routing builds one Candidate per eligible wallet).
_CANDIDATE_SLOT_SETTERS: Final = tuple(
    getattr(Candidate, a.name).__set__ for a in fields(Candidate)
)
if len(_CANDIDATE_SLOT_SETTERS) != 6:  # pragma: no cover - guards Router.decide against drift
    raise RuntimeError("Candidate changed shape: update Router.decide")


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
        # Hot-path view of the profiles: provider -> (min minor, max minor), for the
        # providers that can collect (a missing entry is the `capability` rejection).
        self._limits = {
            p: (prof.min_amount.minor, prof.max_amount.minor)
            for p, prof in self._profiles.items()
            if Capability.COLLECT in prof.capabilities
        }
        self._fees = fee_book if fee_book is not None else default_fee_book()
        self._policy = policy if policy is not None else RoutingPolicy()
        # The policy is frozen: its numbers for the hot path, read in one go.
        self._weights = (
            self._policy.success_weight,
            self._policy.cost_weight,
            self._policy.latency_weight,
            self._policy.preference_weight,
            self._policy.min_success,
        )

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
        # One pass filters and scores (a score needs nothing from the other wallets),
        # a second one applies the elimination gap, which needs the best success rate.
        policy = self._policy
        w_success, w_cost, w_latency, w_preference, min_success = self._weights
        amount = request.amount
        amount_minor = amount.minor
        payee_msisdn = request.payee.msisdn
        payee_network = None if payee_msisdn is None else payee_msisdn.network_hint
        if request.payee.merchant_account is not None:
            same_kind = cross_kind = _MERCHANT_PAYMENT
        else:
            same_kind, cross_kind = _SAME_NETWORK, _CROSS_NETWORK
        disallowed = request.disallowed
        preferred = request.preferred
        n_pref = len(preferred)
        on = request.on
        sent_today = request.payer_sent_today
        fees = self._fees
        quote = fees.quote_checked
        quotable = False  # amount and day total checked once, when the first wallet is quoted
        all_limits = self._limits
        rejected: list[Rejection] = []
        ranked: list[tuple[float, int, Candidate]] = []  # (-score, wallet index, candidate)
        best = 0.0
        worst = 1.0
        put_wallet, put_fee, put_success, put_latency, put_score, put_factors = (
            _CANDIDATE_SLOT_SETTERS
        )

        for index, wallet in enumerate(request.wallets):
            provider = wallet.provider
            if disallowed and provider in disallowed:
                rejected.append(_disallowed(wallet))
                continue
            limits = all_limits.get(provider)
            if limits is None:
                rejected.append(_incapable(wallet))
                continue
            if not limits[0] <= amount_minor <= limits[1]:
                rejected.append(_outside_limits(wallet, limits))
                continue
            h = health.get(provider)
            if h is not None and h.circuit is _OPEN:
                rejected.append(_circuit_open(wallet))
                continue
            if not quotable:
                fees.check_quotable(amount, sent_today)
                quotable = True
            # transfer_kind(), inlined: this loop is the routing hot path
            kind = same_kind if payee_network is None or payee_network is provider else cross_kind
            try:
                fee, total_fee = quote(provider, kind, amount, on, sent_today)
            except FeeRuleMissing as exc:
                rejected.append(Rejection(wallet, exc.code, exc.message))
                continue
            balance = wallet.balance
            if balance is not None and balance.minor < amount_minor + total_fee:
                rejected.append(_short_of_funds(wallet, balance, fee))
                continue
            if h is None:
                success, latency = policy.default_success, policy.default_latency_ms
            else:
                success, latency = h.success_rate, h.p95_latency_ms
            if success < min_success:
                rejected.append(_below_minimum(wallet, success, min_success))
                continue
            # Comparisons rather than max()/min(): two builtin calls per wallet add up here.
            if success > best:  # noqa: PLR1730
                best = success
            if success < worst:  # noqa: PLR1730
                worst = success

            cost = total_fee / amount_minor if amount_minor else 0.0
            if n_pref and provider in preferred:
                preference = (n_pref - preferred.index(provider)) / n_pref
            else:
                preference = 0.0
            latency_s = latency / 1000
            score = (
                w_success * success
                - w_cost * cost
                - w_latency * latency_s
                + w_preference * preference
            )
            factors = {
                "success": success,
                "cost": cost,
                "latency_s": latency_s,
                "preference": preference,
            }
            # Candidate(wallet, fee, success, latency, score, factors), filled slot by slot
            # (see _CANDIDATE_SLOT_SETTERS; test_routing compares it with the constructor).
            candidate = _new_object(Candidate)
            put_wallet(candidate, wallet)
            put_fee(candidate, fee)
            put_success(candidate, success)
            put_latency(candidate, latency)
            put_score(candidate, score)
            put_factors(candidate, factors)
            ranked.append((-score, index, candidate))

        if len(ranked) > 1:
            floor = best - policy.elimination_gap
            if worst < floor:
                kept = []
                for entry in ranked:
                    candidate = entry[2]
                    if candidate.success_probability < floor:
                        rejected.append(_far_below_best(candidate, policy.elimination_gap, best))
                    else:
                        kept.append(entry)
                ranked = kept
            # (-score, index) is unique per entry, so tuples never compare the Candidates.
            ranked.sort()

        candidates = [entry[2] for entry in ranked]
        if len(candidates) > 1:
            # A half-open provider is on probation: it must not take all the traffic the
            # moment its cool-down ends. It goes last (still a failover target) and gets
            # first place only through the exploration draw below, i.e. as a probe.
            probation = [
                c
                for c in candidates
                if (h := health.get(c.wallet.provider)) is not None and h.circuit is _HALF_OPEN
            ]
            if probation and len(probation) < len(candidates):
                candidates = [c for c in candidates if c not in probation] + probation
        explored = False
        if len(candidates) > 1 and _draw(seed, 0) < policy.exploration_share:
            pick = 1 + int(_draw(seed, 1) * (len(candidates) - 1))
            candidates.insert(0, candidates.pop(pick))
            explored = True
        return RoutingDecision(tuple(candidates), tuple(rejected), explored, seed, policy)


# Rejections off the hot path: built only when a wallet is filtered out.
def _disallowed(wallet: Wallet) -> Rejection:
    return Rejection(wallet, "disallowed", f"the merchant does not accept {wallet.provider}")


def _incapable(wallet: Wallet) -> Rejection:
    return Rejection(wallet, "capability", f"{wallet.provider} cannot collect payments")


def _outside_limits(wallet: Wallet, limits: tuple[int, int]) -> Rejection:
    return Rejection(
        wallet,
        "amount_limits",
        f"{wallet.provider} takes GHS {Money(limits[0]).to_decimal_string()} to "
        f"{Money(limits[1]).to_decimal_string()} per transaction",
    )


def _circuit_open(wallet: Wallet) -> Rejection:
    return Rejection(wallet, "circuit_open", f"{wallet.provider} is failing; circuit open")


def _below_minimum(wallet: Wallet, success: float, min_success: float) -> Rejection:
    return Rejection(
        wallet,
        "eliminated",
        f"{wallet.provider} success rate {success:.2f} is below the minimum {min_success:.2f}",
    )


def _far_below_best(candidate: Candidate, gap: float, best: float) -> Rejection:
    return Rejection(
        candidate.wallet,
        "eliminated",
        f"{candidate.wallet.provider} success rate {candidate.success_probability:.2f} is more "
        f"than {gap:.2f} below the best ({best:.2f})",
    )


def _short_of_funds(wallet: Wallet, balance: Money, fee: FeeQuote) -> Rejection:
    return Rejection(
        wallet,
        "insufficient_balance",
        f"known balance {balance.to_decimal_string()} is below amount + fees "
        f"{fee.payer_total.to_decimal_string()}",
    )
