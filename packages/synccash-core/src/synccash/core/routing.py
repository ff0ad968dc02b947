"""Provider selection for a payment: hard filters, the cheapest expected attempt chain, an explanation.

Order of decisions (orchestrator-practices §5-6):

1. Hard filters per payer wallet, in this order, each with a stable code:
   `disallowed` (merchant said no), `capability` (provider cannot collect),
   `amount_limits` (per-transaction limits), `circuit_open`, `fee_rule_missing`,
   `insufficient_balance` (known balance < amount + all fees), `eliminated`
   (provider success estimate under `min_success`, 1%).
2. Each remaining wallet's attempt success `s = p * f`: `p` the provider's success
   estimate for this transfer kind (`ProviderHealth.estimate`), `f` the chance the
   wallet holds enough (1 for a known balance that covers amount + fees, else the
   `FundsEvidence` learnt from insufficient-funds answers, or `unknown_funds`).
3. The order: the one that minimises the expected cost of the whole attempt chain,
   fees on the leg that succeeds + λ x expected prompts + penalty x P(every leg
   fails) (`synccash.core.chain`): ascending `fee + λ / s`; a wallet whose index is
   not below the penalty is not worth a prompt (`expected_cost`). λ and the penalty
   are the merchant's `RoutingCosts` (the request's, else the policy's). Exact ties
   go to the merchant's preferred providers, then keep the payer's wallet order.
   Half-open providers (on probation) go last unless they are all there is.
4. Exploration, bounded: with probability `exploration_share` (a pure function of
   the seed: same request and seed, same decision) the most uncertain other wallet
   (success sd >= `exploration_min_sd`, or on probation) is tried first, if that
   costs at most `exploration_max_regret_minor` more in expectation. The
   explanation shows the expected cost of the chosen order and of the runner-up
   (the best order starting with another wallet), and the regret of an exploration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from attrs import frozen

from synccash.core.balances import FundsEvidence
from synccash.core.chain import ChainStep, expected_cost, step_index
from synccash.core.errors import ValidationError
from synccash.core.fees import FeeBook, FeeQuote, FeeRuleMissing, TransferKind, default_fee_book
from synccash.core.money import Money
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId, ProviderProfile
from synccash.core.reliability import CircuitState, ProviderHealth, SuccessEstimate

_M64: Final = (1 << 64) - 1
_ZERO: Final = Money(0)


def seeded_uniform(seed: int, stream: int = 0) -> float:
    """A deterministic draw in [0, 1) from a seed and a stream number (one SplitMix64 step)."""
    z = (seed + stream * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return (z ^ (z >> 31)) / 18446744073709551616.0


@frozen
class RoutingCosts:
    """What a merchant weighs fees against (the expected cost's λ and penalty).

    `prompt_cost_minor` (λ): what one prompt on the payer's phone is worth, in pesewas
    (default GHS 0.10: a prompt is cheap, but never free). `failure_penalty_share`: a
    failed payment costs this share of its amount (default 1: the sale). A merchant who
    pays fees on behalf of payers and cares less about prompts lowers λ.
    """

    prompt_cost_minor: int = 10
    failure_penalty_share: float = 1.0

    def __attrs_post_init__(self) -> None:
        if self.prompt_cost_minor < 0 or self.failure_penalty_share < 0:
            raise ValidationError(
                "prompt cost and failure penalty must be >= 0", code="invalid_policy"
            )

    def penalty(self, amount_minor: int) -> float:
        """The cost of failing a payment of this amount (pesewas-equivalent)."""
        return self.failure_penalty_share * amount_minor

    def explain(self) -> dict[str, float]:
        """The costs as JSON-ready numbers."""
        return {
            "prompt_cost_minor": self.prompt_cost_minor,
            "failure_penalty_share": self.failure_penalty_share,
        }


@frozen
class RoutingPolicy:
    """Costs, exploration bounds and the defaults of the router (the same everywhere)."""

    costs: RoutingCosts = RoutingCosts()
    exploration_share: float = 0.05
    exploration_max_regret_minor: int = 20
    exploration_min_sd: float = 0.03
    min_success: float = 0.01  # hopeless estimates; the chain's index leaves out the rest
    default_success: float = 0.95  # a provider with no health entry at all
    unknown_funds: float = 0.85  # P(an unknown balance suffices) without funds evidence
    default_latency_ms: int = 2_000

    def __attrs_post_init__(self) -> None:
        if self.exploration_max_regret_minor < 0 or self.exploration_min_sd < 0:
            raise ValidationError("exploration bounds must be >= 0", code="invalid_policy")
        for name in ("exploration_share", "min_success", "default_success", "unknown_funds"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(
                    f"routing {name} must be within [0, 1]", code="invalid_policy"
                )

    def explain(self) -> dict[str, Any]:
        """The policy as JSON-ready numbers."""
        return {
            "costs": self.costs.explain(),
            "exploration_share": self.exploration_share,
            "exploration_max_regret_minor": self.exploration_max_regret_minor,
            "exploration_min_sd": self.exploration_min_sd,
            "min_success": self.min_success,
            "unknown_funds": self.unknown_funds,
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
    costs: RoutingCosts | None = None  # the merchant's; None: the policy's defaults

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
    """An eligible wallet with its fee, attempt success and score (higher is better).

    `success_probability` is the attempt's success (provider x funds); `score` is minus
    the chain index `fee + λ / success` in pesewas; `factors` has every input.
    """

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
    expected_cost: float | None = None  # of the chosen order (pesewas-equivalent)
    runner_up: tuple[ProviderId, float] | None = None  # first wallet and cost of the next best
    regret: float = 0.0  # expected cost an exploration added
    costs: RoutingCosts | None = None  # the λ and penalty this decision used

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
            "expected_cost": {
                "chosen": _rounded(self.expected_cost),
                "runner_up": None
                if self.runner_up is None
                else {"first": self.runner_up[0].value, "cost": _rounded(self.runner_up[1])},
                "exploration_regret": round(self.regret, 3),
            },
            "costs": None if self.costs is None else self.costs.explain(),
            "policy": None if self.policy is None else self.policy.explain(),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@frozen
class _Context:
    """What every filter of one request reads: the request, health, funds and kinds."""

    request: RoutingRequest
    health: Mapping[ProviderId, ProviderHealth]
    funds: FundsEvidence | None
    own_kind: TransferKind  # paying a payee on the wallet's own network (or a merchant)
    other_kind: TransferKind  # paying a payee on another network
    costs: RoutingCosts

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
        # The policy's fixed estimates, built once (not per candidate).
        self._default_provider = SuccessEstimate(self._policy.default_success, 0.0, 0, 0)
        self._default_funds = SuccessEstimate(self._policy.unknown_funds, 0.0, 0, 0)

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
        funds: FundsEvidence | None = None,
    ) -> RoutingDecision:
        """Filter the request's wallets, then order them by expected cost (module docstring)."""
        self._fees.check_quotable(request.amount, request.payer_sent_today)
        ctx = self._context(request, health, funds)
        candidates: list[Candidate] = []
        rejected: list[Rejection] = []
        for wallet in request.wallets:
            screened = self._screen(wallet, ctx)
            if isinstance(screened, Rejection):
                rejected.append(screened)
            else:
                candidates.append(screened)
        penalty = ctx.costs.penalty(request.amount.minor)
        rejected += [_not_worth_a_prompt(c, penalty) for c in candidates if -c.score >= penalty]
        candidates = [c for c in candidates if -c.score < penalty]
        candidates.sort(key=lambda c: (-c.score, _preference_rank(request, c)))  # stable
        ranked = _probation_last(candidates, health)
        cost, runner_up = _costs(ranked, ctx.costs, penalty)
        explored, regret = self._explore(ranked, ctx, seed, penalty)
        if regret is not None and cost is not None:  # the exploit order is the runner-up
            runner_up, cost = (ranked[0].wallet.provider, cost), cost + regret
            ranked = explored
        return RoutingDecision(
            tuple(ranked),
            tuple(rejected),
            regret is not None,
            seed,
            self._policy,
            cost,
            runner_up,
            regret or 0.0,
            ctx.costs,
        )

    def _context(
        self,
        request: RoutingRequest,
        health: Mapping[ProviderId, ProviderHealth],
        funds: FundsEvidence | None,
    ) -> _Context:
        costs = request.costs if request.costs is not None else self._policy.costs
        if request.merchant_payment:
            return _Context(request, health, funds, _MERCHANT, _MERCHANT, costs)
        same, cross = TransferKind.SAME_NETWORK, TransferKind.CROSS_NETWORK
        return _Context(request, health, funds, same, cross, costs)

    def _screen(self, wallet: Wallet, ctx: _Context) -> Candidate | Rejection:
        """The wallet's hard filters in order (module docstring), then its chain index."""
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
        return self._candidate(wallet, fee, ctx)

    def _candidate(self, wallet: Wallet, fee: FeeQuote, ctx: _Context) -> Candidate:
        health = ctx.health.get(wallet.provider)
        provider = self._default_provider if health is None else health.estimate(fee.kind)
        funds = self._funds(wallet, ctx)
        success = provider.mean * funds.mean
        lam = ctx.costs.prompt_cost_minor
        index = step_index(ChainStep(success, fee.total_fee_minor), lam)
        latency = self._policy.default_latency_ms if health is None else health.p95_latency_ms
        factors = {
            "provider_success": provider.mean,
            "provider_success_sd": provider.sd,
            "funds": funds.mean,
            "attempt_success": success,
            "fee_minor": float(fee.total_fee_minor),
            "prompt_cost_minor": float(lam),
            "index": index,
        }
        return Candidate(wallet, fee, success, latency, -index, factors)

    def _funds(self, wallet: Wallet, ctx: _Context) -> SuccessEstimate:
        if wallet.balance is not None:
            return _CERTAIN  # known and enough: the filters removed known shortfalls
        if ctx.funds is None:
            return self._default_funds
        return ctx.funds.estimate(wallet.provider, ctx.request.amount.minor)

    def _explore(
        self, ranked: list[Candidate], ctx: _Context, seed: int, penalty: float
    ) -> tuple[list[Candidate], float | None]:
        """Maybe try the most uncertain other wallet first, within the regret bound."""
        policy = self._policy
        if len(ranked) < 2 or seeded_uniform(seed, 0) >= policy.exploration_share:
            return ranked, None
        base = _chain_cost(ranked, ctx.costs, penalty)
        best: tuple[float, list[Candidate], float] | None = None
        for i, candidate in enumerate(ranked[1:], start=1):
            on_probation = _half_open(ctx.health.get(candidate.wallet.provider))
            sd = candidate.factors["provider_success_sd"]
            if not on_probation and sd < policy.exploration_min_sd:
                continue
            order = [candidate, *ranked[:i], *ranked[i + 1 :]]
            regret = _chain_cost(order, ctx.costs, penalty) - base
            if regret <= policy.exploration_max_regret_minor and (best is None or sd > best[0]):
                best = (sd, order, max(regret, 0.0))
        if best is None:
            return ranked, None
        return best[1], best[2]


_MERCHANT: Final = TransferKind.MERCHANT_PAYMENT
_CERTAIN: Final = SuccessEstimate(1.0, 0.0, 0, 0)


def _provider_estimate(
    policy: RoutingPolicy, health: ProviderHealth | None, kind: TransferKind
) -> SuccessEstimate:
    if health is None:
        return SuccessEstimate(policy.default_success, 0.0, 0, 0)
    return health.estimate(kind)


def _preference_rank(request: RoutingRequest, candidate: Candidate) -> int:
    preferred = request.preferred
    provider = candidate.wallet.provider
    return preferred.index(provider) if provider in preferred else len(preferred)


def _steps(candidates: list[Candidate]) -> list[ChainStep]:
    return [ChainStep(c.success_probability, c.fee.total_fee_minor) for c in candidates]


def _chain_cost(candidates: list[Candidate], costs: RoutingCosts, penalty: float) -> float:
    return expected_cost(_steps(candidates), costs.prompt_cost_minor, penalty)


def _costs(
    ranked: list[Candidate], costs: RoutingCosts, penalty: float
) -> tuple[float | None, tuple[ProviderId, float] | None]:
    """The chosen order's expected cost and the best order that starts with another wallet."""
    if not ranked:
        return None, None
    steps = _steps(ranked)
    lam = costs.prompt_cost_minor
    chosen = expected_cost(steps, lam, penalty)
    if len(ranked) < 2:
        return chosen, None
    others = [
        (expected_cost([step, *steps[:i], *steps[i + 1 :]], lam, penalty), i)
        for i, step in enumerate(steps[1:], start=1)
    ]
    cost, i = min(others)
    return chosen, (ranked[i].wallet.provider, cost)


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
    router: Router, wallet: Wallet, ctx: _Context, fee: FeeQuote
) -> Rejection | None:
    policy = router.policy
    success = _provider_estimate(policy, ctx.health.get(wallet.provider), fee.kind).mean
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


def _not_worth_a_prompt(candidate: Candidate, penalty: float) -> Rejection:
    return Rejection(
        candidate.wallet,
        "expected_cost",
        f"{candidate.wallet.provider}: fee + prompt cost / success "
        f"({-candidate.score:.1f} pesewas) is not below the failure penalty ({penalty:.1f})",
    )
