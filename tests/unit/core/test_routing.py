"""Routing: hard filters, scoring, seeded exploration and the explanation."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from synccash.core.errors import ValidationError
from synccash.core.fees import FeeBook, FeeRule, FeeSchedule, TransferKind
from synccash.core.money import Money, ghs
from synccash.core.msisdn import Msisdn
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import DEFAULT_PROFILES, Capability, ProviderId
from synccash.core.reliability import CircuitState, HealthSample, HealthTracker, ProviderHealth
from synccash.core.routing import Candidate, Router, RoutingPolicy, RoutingRequest, seeded_uniform

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
) -> ProviderHealth:
    return ProviderHealth(provider, rate, 100, p95 // 2, p95, circuit)


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
    assert mtn.factors["cost"] == pytest.approx(0.0075)
    at = next(c for c in d.candidates if c.wallet.provider is AT)
    assert at.fee.kind is TransferKind.CROSS_NETWORK


def test_higher_success_rate_wins():
    """A clearly more reliable provider ranks first."""
    hl = {**HEALTHY, AT: health(AT, 0.99), MTN: health(MTN, 0.80)}
    assert order(decide(request(), hl)) == [AT, TEL, MTN]


def test_latency_breaks_near_ties():
    """At equal success and cost, the faster p95 ranks first."""
    hl = {**HEALTHY, MTN: health(MTN, p95=20_000)}
    assert order(decide(request(), hl))[-1] is MTN


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


def test_elimination_relative_to_best_eligible():
    """A provider more than the gap below the best eligible one is eliminated."""
    hl = {**HEALTHY, AT: health(AT, 0.6), TEL: health(TEL, 0.66)}
    d = decide(request(), hl)
    assert [(r.wallet.provider, r.code) for r in d.rejected] == [(AT, "eliminated")]
    assert order(d) == [MTN, TEL]


def test_no_elimination_when_the_leader_is_not_a_payer_wallet():
    """A weak provider is kept if it is the payer's only usable wallet."""
    hl = {**HEALTHY, AT: health(AT, 0.5)}
    d = decide(request(wallets=(wallet(AT),)), hl)
    assert order(d) == [AT]


def test_min_success_floor():
    """Below min_success a provider is eliminated even alone."""
    hl = {**HEALTHY, AT: health(AT, 0.1)}
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
    assert d.candidates[0].success_probability == pytest.approx(0.95)
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
        "success",
        "cost",
        "latency_s",
        "preference",
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
    """About 5 % of decisions explore, always promoting a non-best eligible wallet."""
    policy = RoutingPolicy()
    best = order(decide(request()))[0]
    explored = 0
    promoted: set[ProviderId] = set()
    for seed in range(4_000):
        d = decide(request(), seed=seed, policy=policy)
        if d.explored:
            explored += 1
            assert d.candidates[0].wallet.provider is not best
            promoted.add(d.candidates[0].wallet.provider)
            assert sorted(order(d)) == sorted([MTN, TEL, AT])
        else:
            assert order(d)[0] is best
    assert 150 <= explored <= 250
    assert promoted == {TEL, AT}


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
        assert c.success_probability >= 0.2
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
        tracker.record(HealthSample(MTN, ok=i < 10, latency_ms=900, at=at))
        tracker.record(HealthSample(TEL, ok=True, latency_ms=900, at=at))
    router = Router(policy=NO_EXPLORE)
    during = router.decide(request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(t0), 0)
    assert [(r.wallet.provider, r.code) for r in during.rejected] == [(MTN, "circuit_open")]
    after_cool_down = t0 + timedelta(minutes=2)
    mid = router.decide(
        request(wallets=(wallet(MTN), wallet(TEL))), tracker.snapshot(after_cool_down), 0
    )
    assert tracker.snapshot(after_cool_down)[MTN].circuit is CircuitState.HALF_OPEN
    assert [(r.wallet.provider, r.code) for r in mid.rejected] == [(MTN, "eliminated")]
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
        {"cost_weight": -1.0},
        {"min_success": 2.0},
        {"elimination_gap": -0.1},
    ],
)
def test_policy_rejects_nonsense(bad):
    """Out-of-range routing settings fail fast with invalid_policy."""
    with pytest.raises(ValidationError) as err:
        RoutingPolicy(**bad)
    assert err.value.code == "invalid_policy"


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
        cost = fee.total_fee.minor / 25_000
        latency_s = hl[provider].p95_latency_ms / 1000
        score = hl[provider].success_rate - cost - 0.002 * latency_s
        factors = {"success": hl[provider].success_rate, "cost": cost}
        factors |= {"latency_s": latency_s, "preference": 0.0}
        expected = Candidate(
            c.wallet, fee, hl[provider].success_rate, hl[provider].p95_latency_ms, score, factors
        )
        assert expected == c
        assert json.dumps(c.explain())
