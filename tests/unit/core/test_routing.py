"""Routing: hard filters, scoring, seeded exploration and the explanation."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.balances import FundsTracker
from synccash.core.chain import ChainStep, expected_cost
from synccash.core.errors import ValidationError
from synccash.core.fees import FeeBook, FeeRule, FeeSchedule, TransferKind
from synccash.core.money import Money, ghs
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.reliability import CircuitState, HealthSample, HealthTracker, ProviderHealth
from synccash.core.routing import (
    Candidate,
    Router,
    RoutingCosts,
    RoutingPolicy,
    RoutingRequest,
    seeded_uniform,
)

MTN = ProviderId.MTN
TEL = ProviderId.TELECEL
AT = ProviderId.AIRTELTIGO
DAY = date(2026, 11, 26)
NUMBERS = {MTN: "0241234567", TEL: "0201234567", AT: "0271234567"}
NO_EXPLORE = RoutingPolicy(exploration_share=0.0)


def wallet(provider: ProviderId, balance: str | None = None) -> Wallet:
    return Wallet(
        provider, Msisdn.parse(NUMBERS[provider]), None if balance is None else ghs(balance)
    )


def health(
    provider: ProviderId,
    rate: float = 0.95,
    p95: int = 1_000,
    circuit: CircuitState = CircuitState.CLOSED,
    sd: float = 0.0,
) -> ProviderHealth:
    return ProviderHealth(provider, rate, 100, p95 // 2, p95, circuit, success_sd=sd)


HEALTHY = {p: health(p) for p in ProviderId}
ALL = (wallet(MTN), wallet(TEL), wallet(AT))


def request(
    amount: str = "100",
    wallets: tuple[Wallet, ...] = ALL,
    payee: Payee | None = None,
    **kw,
) -> RoutingRequest:
    payee = payee if payee is not None else Payee(merchant_account="shop-1")
    return RoutingRequest(ghs(amount), wallets, payee, DAY, **kw)


def decide(req: RoutingRequest, hl=None, seed: int = 0, policy: RoutingPolicy = NO_EXPLORE):
    return Router(policy=policy).decide(req, HEALTHY if hl is None else hl, seed)


def order(decision) -> list[ProviderId]:
    return [c.wallet.provider for c in decision.candidates]


def test_merchant_payment_equal_health_keeps_wallet_order():
    """All free for merchant payments and equally healthy: ties keep the payer's order."""
    d = decide(request())
    assert order(d) == [MTN, TEL, AT]
    assert d.chosen is not None
    assert d.chosen.wallet.provider is MTN
    assert d.rejected == ()
    assert d.approach == "exploit"


def test_cheaper_provider_wins_for_p2p():
    """To an MTN payee, Telecel (free) beats MTN (0.75 %) at equal health."""
    payee = Payee(msisdn=Msisdn.parse("0241112223"))
    d = decide(request("100", payee=payee))
    assert order(d)[0] is TEL
    mtn = next(c for c in d.candidates if c.wallet.provider is MTN)
    assert mtn.fee.kind is TransferKind.SAME_NETWORK
    assert mtn.factors["fee_minor"] == 75
    at = next(c for c in d.candidates if c.wallet.provider is AT)
    assert at.fee.kind is TransferKind.CROSS_NETWORK


def test_higher_success_rate_wins():
    """A clearly more reliable provider ranks first."""
    hl = {**HEALTHY, AT: health(AT, 0.99), MTN: health(MTN, 0.80)}
    assert order(decide(request(), hl)) == [AT, TEL, MTN]


def test_the_merchants_prompt_cost_trades_fees_for_reliability():
    """Cheap-but-flaky Telecel first at the default λ; a merchant who weighs prompts more
    (λ = GHS 2.00) puts the reliable, dearer MTN first."""
    payee = Payee(msisdn=Msisdn.parse("0241112223"))  # MTN 0.75 % = 0.75; Telecel free
    hl = {**HEALTHY, TEL: health(TEL, 0.6), MTN: health(MTN, 0.97)}
    wallets = (wallet(MTN, "1000"), wallet(TEL, "1000"))
    assert order(decide(request("100", wallets, payee), hl)) == [TEL, MTN]
    costly_prompts = request("100", wallets, payee, costs=RoutingCosts(prompt_cost_minor=200))
    assert order(decide(costly_prompts, hl)) == [MTN, TEL]


def test_merchant_preference_orders_equal_providers():
    """Preferred providers rank by the merchant's order."""
    assert order(decide(request(preferred=(AT, TEL)))) == [AT, TEL, MTN]


def test_disallowed_provider_is_rejected():
    """A merchant-disallowed provider is filtered with code disallowed."""
    d = decide(request(disallowed=frozenset({MTN})))
    assert MTN not in order(d)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(MTN, "disallowed")]


def test_capability_filter():
    """A provider that cannot collect is rejected with code capability."""
    profiles = {
        **DEFAULT_PROFILES,
        TEL: evolve(DEFAULT_PROFILES[TEL], capabilities=frozenset({Capability.DISBURSE})),
    }
    d = Router(profiles, policy=NO_EXPLORE).decide(request(), HEALTHY, 0)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(TEL, "capability")]


def test_unknown_profile_is_a_capability_rejection():
    """A provider without a profile cannot be used."""
    profiles = {p: v for p, v in DEFAULT_PROFILES.items() if p is not AT}
    d = Router(profiles, policy=NO_EXPLORE).decide(request(), HEALTHY, 0)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(AT, "capability")]


def test_amount_limits_filter():
    """Amounts outside a provider's per-transaction limits are rejected."""
    profiles = {**DEFAULT_PROFILES, MTN: evolve(DEFAULT_PROFILES[MTN], max_amount=ghs("50"))}
    d = Router(profiles, policy=NO_EXPLORE).decide(request("50.01"), HEALTHY, 0)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(MTN, "amount_limits")]
    ok = Router(profiles, policy=NO_EXPLORE).decide(request("50"), HEALTHY, 0)
    assert ok.rejected == ()


def test_open_circuit_filter():
    """An open circuit rejects; half-open stays eligible (it needs probe traffic)."""
    hl = {
        **HEALTHY,
        MTN: health(MTN, circuit=CircuitState.OPEN),
        TEL: health(TEL, circuit=CircuitState.HALF_OPEN),
    }
    d = decide(request(), hl)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(MTN, "circuit_open")]
    assert TEL in order(d)


def test_insufficient_known_balance_counts_fees():
    """Known balance below amount + fees rejects; exactly enough is fine; unknown is fine."""
    payee = Payee(msisdn=Msisdn.parse("0241112223"))  # MTN P2P: 0.75 % fee
    short = (wallet(MTN, "100.74"), wallet(TEL))
    d = decide(request("100", short, payee))
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(MTN, "insufficient_balance")]
    assert "100.75" in d.rejected[0].message
    enough = (wallet(MTN, "100.75"), wallet(TEL))
    assert decide(request("100", enough, payee)).rejected == ()


def test_a_much_weaker_provider_is_a_last_resort_not_eliminated():
    """Far below the others, AT still goes last in the chain: it may still save the payment."""
    hl = {**HEALTHY, AT: health(AT, 0.4), TEL: health(TEL, 0.66)}
    d = decide(request(), hl)
    assert d.rejected == ()
    assert order(d) == [MTN, TEL, AT]


def test_no_elimination_when_the_leader_is_not_a_payer_wallet():
    """A weak provider is kept if it is the payer's only usable wallet."""
    hl = {**HEALTHY, AT: health(AT, 0.5)}
    d = decide(request(wallets=(wallet(AT),)), hl)
    assert order(d) == [AT]


def test_min_success_floor():
    """Below min_success (0.01) a provider is eliminated even alone."""
    hl = {**HEALTHY, AT: health(AT, 0.005)}
    d = decide(request(wallets=(wallet(AT),)), hl)
    assert d.chosen is None
    assert [r.code for r in d.rejected] == ["eliminated"]
    assert d.approach == "none"


def test_missing_fee_rule_rejects_with_its_code():
    """A provider with no tariff for the day is rejected, not quoted at zero."""
    book = FeeBook(
        [
            FeeSchedule(
                p, TransferKind.MERCHANT_PAYMENT, (FeeRule.free("f", valid_from=date(2026, 1, 1)),)
            )
            for p in (MTN, TEL)
        ]
    )
    d = Router(fee_book=book, policy=NO_EXPLORE).decide(request(), HEALTHY, 0)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(AT, "fee_rule_missing")]


def test_missing_health_uses_policy_defaults():
    """A provider absent from the health map gets the optimistic default."""
    d = decide(request(wallets=(wallet(MTN),)), {})
    assert d.candidates[0].factors["provider_success"] == pytest.approx(0.95)
    assert d.candidates[0].factors["funds"] == pytest.approx(0.85)  # balance unknown
    assert d.candidates[0].success_probability == pytest.approx(0.95 * 0.85)
    assert d.candidates[0].latency_ms == 2_000


def test_levy_uses_payer_day_total():
    """The quote carries the payer's day total into the levy (2022 rate, first 100 exempt)."""
    payee = Payee(msisdn=Msisdn.parse("0241112223"))
    req = RoutingRequest(
        ghs("100"), (wallet(TEL),), payee, date(2022, 6, 1), payer_sent_today=ghs("50")
    )
    d = Router(policy=NO_EXPLORE).decide(req, HEALTHY, 0)
    assert ghs("0.75") == d.candidates[0].fee.levy


def test_explanation_is_json_and_complete():
    """Every candidate's factors and every rejection appear in the JSON explanation."""
    hl = {**HEALTHY, AT: health(AT, circuit=CircuitState.OPEN)}
    d = decide(request(disallowed=frozenset({TEL})), hl, seed=42)
    explained = json.loads(json.dumps(d.explain()))
    assert explained["seed"] == 42
    assert explained["chosen"] == "mtn"
    assert [c["provider"] for c in explained["candidates"]] == ["mtn"]
    assert set(explained["candidates"][0]["factors"]) == {
        "provider_success",
        "provider_success_sd",
        "funds",
        "attempt_success",
        "fee_minor",
        "prompt_cost_minor",
        "index",
    }
    # one prompt (λ = 10) + the failure penalty (the amount, 10 000) x P(it fails)
    expected = 10 + 10_000 * (1 - 0.95 * 0.85)
    assert explained["expected_cost"] == {
        "chosen": round(expected, 3),
        "runner_up": None,
        "exploration_regret": 0.0,
    }
    assert explained["candidates"][0]["fee"]["total_fee"] == "0.00"
    assert {(r["provider"], r["code"]) for r in explained["rejected"]} == {
        ("telecel", "disallowed"),
        ("airteltigo", "circuit_open"),
    }
    assert all(r["message"] for r in explained["rejected"])
    assert "****" in explained["rejected"][0]["msisdn"]


def test_same_seed_same_decision():
    """The same request, health and seed give an identical decision."""
    policy = RoutingPolicy(exploration_share=0.5)
    for seed in range(50):
        a = decide(request(), seed=seed, policy=policy)
        b = decide(request(), seed=seed, policy=policy)
        assert a.explain() == b.explain()


def test_exploration_share_is_respected_over_many_seeds():
    """About 5 % of decisions explore, always promoting the most uncertain other wallet."""
    policy = RoutingPolicy()
    hl = {MTN: health(MTN), TEL: health(TEL, sd=0.05), AT: health(AT, sd=0.08)}
    best = order(decide(request(), hl))[0]
    explored = 0
    for seed in range(4_000):
        d = decide(request(), hl, seed=seed, policy=policy)
        if d.explored:
            explored += 1
            assert order(d)[0] is AT
            assert sorted(order(d)) == sorted([MTN, TEL, AT])
            assert d.explain()["approach"] == "explore"
        else:
            assert order(d)[0] is best
    assert 150 <= explored <= 250


def test_well_known_providers_are_not_explored():
    """With every estimate tight (sd below exploration_min_sd) there is nothing to learn."""
    policy = RoutingPolicy(exploration_share=1.0)
    d = decide(request(), HEALTHY, seed=3, policy=policy)
    assert not d.explored


def test_exploration_is_bounded_by_its_regret():
    """An uncertain wallet is not promoted if it costs more than the bound in expectation."""
    payee = Payee(msisdn=Msisdn.parse("0201112223"))  # Telecel payee: MTN pays the MMI fee
    hl = {MTN: health(MTN, sd=0.2), TEL: health(TEL)}
    wallets = (wallet(MTN, "5000"), wallet(TEL, "5000"))
    explore_all = RoutingPolicy(exploration_share=1.0)
    dear = decide(request("1000", wallets, payee), hl, seed=1, policy=explore_all)
    assert not dear.explored  # MTN's fee (7.50) is far above the 0.20 bound
    cheap = decide(request("10", wallets, payee), hl, seed=1, policy=explore_all)
    assert cheap.explored  # 0.08 on GHS 10 is within it
    assert 0 < cheap.regret <= explore_all.exploration_max_regret_minor
    assert cheap.explain()["expected_cost"]["exploration_regret"] == round(cheap.regret, 3)


def test_no_exploration_with_a_single_candidate():
    """One eligible wallet is never 'explored'."""
    policy = RoutingPolicy(exploration_share=1.0)
    assert not decide(request(wallets=(wallet(MTN),)), policy=policy).explored


def test_seeded_uniform_range_and_determinism():
    """Draws are in [0, 1), repeatable and differ between streams."""
    draws = [seeded_uniform(s) for s in range(1_000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    assert draws == [seeded_uniform(s) for s in range(1_000)]
    assert seeded_uniform(7, 0) != seeded_uniform(7, 1)
    assert 0.45 < sum(draws) / len(draws) < 0.55
    assert 0.0 <= seeded_uniform(-5) < 1.0


health_st = st.builds(
    ProviderHealth,
    provider=st.just(MTN),
    success_rate=st.floats(0.0, 1.0),
    samples=st.integers(0, 200),
    p50_latency_ms=st.integers(0, 60_000),
    p95_latency_ms=st.integers(0, 60_000),
    circuit=st.sampled_from(list(CircuitState)),
)
wallet_st = st.builds(
    wallet,
    st.sampled_from(list(ProviderId)),
    st.none() | st.integers(0, 2_000_000).map(lambda m: Money(m).to_decimal_string()),
)


@given(
    amount=st.integers(1, 3_000_000),
    wallets=st.lists(wallet_st, min_size=1, max_size=4).map(tuple),
    hs=st.tuples(health_st, health_st, health_st),
    disallowed=st.frozensets(st.sampled_from(list(ProviderId))),
    preferred=st.lists(st.sampled_from(list(ProviderId)), unique=True).map(tuple),
    cross=st.booleans(),
    seed=st.integers(0, 2**63),
)
def test_routing_never_picks_a_filtered_provider_and_explains_every_wallet(
    *, amount, wallets, hs, disallowed, preferred, cross, seed
):
    """Every wallet is either a candidate or a rejection; candidates pass every hard filter."""
    hl = {p: evolve(h, provider=p) for p, h in zip(ProviderId, hs, strict=True)}
    payee = Payee(msisdn=Msisdn.parse("0551234567")) if cross else Payee(merchant_account="m")
    req = RoutingRequest(
        Money(amount), wallets, payee, DAY, preferred=preferred, disallowed=disallowed
    )
    d = Router(policy=RoutingPolicy(exploration_share=0.3)).decide(req, hl, seed)
    assert len(d.candidates) + len(d.rejected) == len(wallets)
    assert sorted(map(id, [c.wallet for c in d.candidates] + [r.wallet for r in d.rejected])) == (
        sorted(map(id, wallets))
    )
    for c in d.candidates:
        p = c.wallet.provider
        assert p not in disallowed
        assert hl[p].circuit is not CircuitState.OPEN
        assert DEFAULT_PROFILES[p].within_limits(Money(amount))
        if c.wallet.balance is not None:
            assert c.wallet.balance >= c.fee.payer_total
        assert c.factors["provider_success"] >= 0.01
    ranked = d.candidates[1:] if d.explored else d.candidates
    # Providers on probation (half-open circuit) come after the others; each group by score.
    on_probation = [hl[c.wallet.provider].circuit is CircuitState.HALF_OPEN for c in ranked]
    if 0 < sum(on_probation) < len(ranked):
        assert on_probation == sorted(on_probation)
    for group in (False, True):
        scores = [c.score for c, p in zip(ranked, on_probation, strict=True) if p is group]
        assert all(a >= b for a, b in itertools.pairwise(scores))
    json.dumps(d.explain())


def test_a_failing_provider_is_avoided_then_tried_again_once_its_failures_age_out():
    """Outage → circuit open → eliminated while failures are fresh → back in rotation later."""
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    tracker = HealthTracker()
    for i in range(20):
        at = t0 + timedelta(seconds=i)
        tracker.record(HealthSample(MTN, ok=i < 2, latency_ms=900, at=at))
        tracker.record(HealthSample(TEL, ok=True, latency_ms=900, at=at))
    router = Router(policy=NO_EXPLORE)
    during = router.decide(request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(t0), 0)
    assert [(r.wallet.provider, r.code) for r in during.rejected] == [(MTN, "circuit_open")]
    after_cool_down = t0 + timedelta(minutes=2)
    mid = router.decide(
        request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(after_cool_down), 0
    )
    assert tracker.snapshot(after_cool_down)[MTN].circuit is CircuitState.HALF_OPEN
    assert mid.rejected == ()
    assert order(mid) == [TEL, MTN]  # on probation: last, a failover target
    later = t0 + timedelta(minutes=30)
    back = router.decide(request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(later), 0)
    assert back.rejected == ()
    # Still half-open (no probe yet): on probation, last, a failover target only.
    assert order(back) == [TEL, MTN]
    tracker.record(HealthSample(MTN, ok=True, latency_ms=900, at=later))  # the probe succeeds
    closed = router.decide(request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(later), 0)
    assert order(closed) == [MTN, TEL]


def test_half_open_provider_leads_only_as_an_exploration_probe():
    """A provider on probation is first only in about the exploration share of decisions."""
    hl = {**HEALTHY, MTN: health(MTN, rate=0.99, circuit=CircuitState.HALF_OPEN)}
    req = request(wallets=(wallet(MTN), wallet(TEL)))
    router = Router(policy=RoutingPolicy(exploration_share=0.1))
    firsts = [order(router.decide(req, hl, seed))[0] for seed in range(2000)]
    share = firsts.count(MTN) / len(firsts)
    assert 0.05 < share < 0.15
    only = router.decide(request(wallets=(wallet(MTN),)), hl, 0)
    assert order(only) == [MTN]  # the payer's only wallet is still tried


@pytest.mark.parametrize(
    "bad",
    [
        {"exploration_share": 1.5},
        {"exploration_share": -0.1},
        {"exploration_max_regret_minor": -1},
        {"min_success": 2.0},
        {"unknown_funds": 1.5},
    ],
)
def test_policy_rejects_nonsense(bad):
    """Out-of-range routing settings fail fast with invalid_policy."""
    with pytest.raises(ValidationError) as err:
        RoutingPolicy(**bad)
    assert err.value.code == "invalid_policy"
    with pytest.raises(ValidationError):
        RoutingCosts(prompt_cost_minor=-1)


def test_candidates_carry_every_field_they_were_scored_with():
    """Each candidate equals one built by Candidate(...) from its wallet, quote and health."""
    hl = {MTN: health(MTN, 0.9, 3_000), TEL: health(TEL, 0.8, 1_500), AT: health(AT, 0.95, 800)}
    payee = Payee(msisdn=Msisdn.parse("0241112223"))
    router = Router(policy=NO_EXPLORE)
    d = router.decide(request("250", payee=payee), hl, 0)
    assert len(d.candidates) == 3
    for c in d.candidates:
        provider = c.wallet.provider
        kind = TransferKind.SAME_NETWORK if provider is MTN else TransferKind.CROSS_NETWORK
        fee = router.fee_book.quote(provider=provider, kind=kind, amount=ghs("250"), on=DAY)
        success = hl[provider].success_rate * 0.85
        index = fee.total_fee.minor + 10 / success
        factors = {"provider_success": hl[provider].success_rate, "provider_success_sd": 0.0}
        factors |= {"funds": 0.85, "attempt_success": success}
        factors |= {"fee_minor": float(fee.total_fee.minor), "prompt_cost_minor": 10.0}
        factors |= {"index": index}
        expected = Candidate(c.wallet, fee, success, hl[provider].p95_latency_ms, -index, factors)
        assert expected == c
        assert json.dumps(c.explain())


def test_the_order_minimises_the_expected_cost_and_the_runner_up_is_shown():
    """The chosen order's expected cost is the lowest of every order; the runner-up's follows."""
    payee = Payee(msisdn=Msisdn.parse("0241112223"))
    hl = {MTN: health(MTN, 0.97), TEL: health(TEL, 0.7), AT: health(AT, 0.9)}
    d = decide(request("300", payee=payee), hl)
    steps = {
        c.wallet.provider: ChainStep(c.success_probability, c.fee.total_fee_minor)
        for c in d.candidates
    }
    penalty = 30_000.0
    costs = {
        perm: expected_cost([steps[p] for p in perm], 10, penalty)
        for perm in itertools.permutations(steps)
    }
    assert d.expected_cost == pytest.approx(min(costs.values()))
    assert tuple(order(d)) == min(costs, key=costs.__getitem__)
    assert d.runner_up is not None
    first, runner_cost = d.runner_up
    assert first is not order(d)[0]
    assert runner_cost == pytest.approx(min(c for p, c in costs.items() if p[0] is first))
    assert runner_cost >= d.expected_cost
    explained = d.explain()["expected_cost"]
    assert explained["runner_up"]["first"] == first.value


def test_insufficient_funds_answers_push_a_provider_back_for_that_amount():
    """Evidence that AT wallets rarely hold GHS 400 puts AT after Telecel at 400; at GHS 20
    the same AT wallets look fine (the evidence is per amount band)."""
    funds = FundsTracker()
    for _ in range(40):
        funds.record(AT, 40_000, enough=False)
        funds.record(TEL, 40_000, enough=True)
        funds.record(AT, 2_000, enough=True)
    wallets = (wallet(AT), wallet(TEL))
    router = Router(policy=NO_EXPLORE)
    big = router.decide(request("400", wallets), HEALTHY, 0, funds.snapshot())
    assert order(big) == [TEL, AT]
    assert big.candidates[1].factors["funds"] < 0.3
    small = router.decide(request("20", (wallet(AT),)), HEALTHY, 0, funds.snapshot())
    assert small.candidates[0].factors["funds"] > 0.85


def test_a_wallet_not_worth_a_prompt_is_left_out():
    """With a tiny failure penalty, a wallet whose fee + λ/s exceeds it is not tried."""
    costs = RoutingCosts(prompt_cost_minor=10, failure_penalty_share=0.01)
    hl = {**HEALTHY, AT: health(AT, 0.06)}
    d = decide(request("100", (wallet(MTN), wallet(AT)), costs=costs), hl)
    assert order(d) == [MTN]
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(AT, "expected_cost")]
