"""Scenario parsing and the simulated world's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from synccash.cli.simulate.scenario import ScenarioError, Timeline, parse_scenario
from synccash.cli.simulate.world import SimPayment, World, fee_book_for
from synccash.core.fees import TransferKind
from synccash.core.fraud import RiskAssessment, RiskDecision
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import Payee, Wallet
from synccash.core.providers import ProviderId


def test_timeline_is_linear_between_points_and_flat_outside():
    """Values interpolate linearly and hold at the ends."""
    line = Timeline((2.0, 6.0), (0.9, 0.5))
    assert line.at(0.0) == 0.9
    assert line.at(4.0) == pytest.approx(0.7)
    assert line.at(10.0) == 0.5


def test_defaults_fill_a_minimal_scenario():
    """An empty mapping is a valid 12-hour scenario over all three providers."""
    scenario = parse_scenario({})
    assert scenario.hours == 12
    assert set(scenario.providers) == set(ProviderId)
    assert scenario.providers[ProviderId.MTN].success.at(3) == 0.97


def test_provider_aliases_are_accepted():
    """`vodafone` means telecel, as in the API."""
    scenario = parse_scenario({"providers": {"vodafone": {"success": 0.5}}})
    assert scenario.providers[ProviderId.TELECEL].success.at(1) == 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"hourz": 3}, "hourz: unknown key"),
        ({"providers": {"orange": {}}}, "unknown provider 'orange'"),
        ({"providers": {"mtn": {"outages": [[5]]}}}, "outages[0]: must be [from_hour, to_hour]"),
        ({"providers": {"mtn": {"success": [[3, 0.9], [1, 0.8]]}}}, "hours must increase"),
        ({"amounts": {"median": "1.234"}}, "amounts.median: amount '1.234' has more than 2"),
        ({"fees": [{"provider": "mtn", "kind": "p2p"}]}, "fees[0].kind: must be one of"),
        ({"wallets": {p.value: {"holders": 0} for p in ProviderId}}, "at least one provider"),
    ],
)
def test_invalid_scenarios_name_the_offending_key(raw, message):
    """Every mistake is a ScenarioError (exit 2 in the CLI) that says where it is."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw, source="s.yaml")
    assert message in str(caught.value)


def test_fee_override_replaces_the_tariff():
    """A 0 % override makes AT same-network transfers free."""
    scenario = parse_scenario(
        {"fees": [{"provider": "airteltigo", "kind": "same_network", "percent": 0}]}
    )
    book = fee_book_for(scenario)
    quote = book.quote(
        provider=ProviderId.AIRTELTIGO,
        kind=TransferKind.SAME_NETWORK,
        amount=Money(10_000),
        on=datetime(2026, 11, 26, tzinfo=UTC).date(),
    )
    assert quote.total_fee == Money(0)


def _payment(
    *, declines: bool = False, balance: int = 1_000_000, luck: float = 0.0, callback: float = 1.0
) -> SimPayment:
    wallet = Wallet(ProviderId.MTN, Msisdn.parse("0241234567"))
    return SimPayment(
        index=0,
        hour=1.0,
        at=datetime(2026, 11, 26, 7, tzinfo=UTC),
        amount=Money(10_000),
        wallets=(wallet,),
        balances={ProviderId.MTN: Money(balance)},
        payee=Payee(merchant_account="shop"),
        declines=declines,
        luck=dict.fromkeys(ProviderId, luck),
        latency_z=dict.fromkeys(ProviderId, 0.0),
        callback_luck=dict.fromkeys(ProviderId, callback),
        risk=RiskAssessment(0, RiskDecision.ALLOW, ()),
        seed=1,
    )


@pytest.mark.parametrize(
    ("raw", "payment", "expected"),
    [
        (
            {"providers": {"mtn": {"outages": [[0.5, 2]]}}},
            _payment(),
            FailureReason.PROVIDER_UNAVAILABLE,
        ),
        (
            {"providers": {"mtn": {"success": 0.5}}},
            _payment(luck=0.7),
            FailureReason.PROVIDER_UNAVAILABLE,
        ),
        ({}, _payment(balance=5_000), FailureReason.INSUFFICIENT_FUNDS),
        ({}, _payment(declines=True), FailureReason.REJECTED_BY_PAYER),
    ],
)
def test_world_fails_attempts_for_the_scenario_reasons(raw, payment, expected):
    """Outages, provider errors, balances and payer declines each give their failure reason."""
    scenario = parse_scenario(raw)
    attempt = World(scenario, fee_book_for(scenario)).attempt(payment, payment.wallets[0], 1.0)
    assert attempt.outcome.kind is OutcomeKind.FAILED
    assert attempt.outcome.reason is expected


def test_world_confirms_when_nothing_stands_in_the_way():
    """A healthy provider, enough balance and a willing payer: the attempt succeeds."""
    scenario = parse_scenario({})
    payment = _payment()
    attempt = World(scenario, fee_book_for(scenario)).attempt(payment, payment.wallets[0], 1.0)
    assert attempt.outcome.kind is OutcomeKind.SUCCEEDED
    assert attempt.latency_ms == 1500


def test_a_lost_callback_makes_the_answer_wait_for_the_first_status_poll():
    """callback_loss 0.5 and a draw below it: the same success, answered at +10 s."""
    scenario = parse_scenario({"providers": {"mtn": {"callback_loss": 0.5}}})
    world = World(scenario, fee_book_for(scenario))
    lost = world.attempt(_payment(callback=0.2), _payment().wallets[0], 1.0)
    kept = world.attempt(_payment(callback=0.7), _payment().wallets[0], 1.0)
    assert (lost.outcome.kind, kept.outcome.kind) == (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED)
    assert (lost.latency_ms, kept.latency_ms) == (10_000, 1500)


def test_callback_loss_must_be_a_share():
    """A callback loss above 1 names its key."""
    with pytest.raises(ScenarioError, match=r"providers.mtn.callback_loss\[0\] value"):
        parse_scenario({"providers": {"mtn": {"callback_loss": 1.5}}})
