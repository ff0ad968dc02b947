"""`synccash route quote`: the real core Router, in-process."""

from __future__ import annotations

import json

import pytest

from synccash.cli.main import app

QUOTE = [
    "route", "quote", "--amount", "250", "--payer", "0241234567",
    "--wallet", "mtn:0241234567=500", "--wallet", "telecel:0201234567=100",
    "--payee", "0551234567",
]  # fmt: skip


def test_quote_table_shows_the_chosen_wallet_fees_and_why_others_were_filtered(runner, env):
    """MTN is chosen (fee 0.75 % = 1.88); Telecel's known balance of 100 cannot cover 250."""
    result = runner.invoke(app, QUOTE, env=env)
    assert result.exit_code == 0, result.output
    assert "chosen" in result.stdout
    assert "1.88" in result.stdout
    assert "filtered: telecel 23320****567: insufficient_balance" in result.stdout
    assert "payer pays GHS 251.88" in result.stdout


def test_quote_json_is_the_full_explanation(runner, env):
    """--json prints the decision's explanation: candidates with factors, rejections with codes."""
    result = runner.invoke(app, [*QUOTE, "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    decision = body["decision"]
    assert decision["chosen"] == "mtn"
    assert decision["candidates"][0]["fee"]["total_fee"] == "1.88"
    assert [r["code"] for r in decision["rejected"]] == ["insufficient_balance"]
    assert body["amount"] == "250.00"


def test_assumed_health_changes_the_decision(runner, env):
    """--success mtn=0.005 (below the 1% floor) makes the router eliminate MTN."""
    args = [
        "route", "quote", "--amount", "250", "--payer", "0241234567",
        "--wallet", "mtn:0241234567", "--wallet", "telecel:0201234567",
        "--payee", "0551234567", "--success", "mtn=0.005", "--json",
    ]  # fmt: skip
    body = json.loads(runner.invoke(app, args, env=env).stdout)
    assert body["decision"]["chosen"] == "telecel"
    assert body["decision"]["rejected"][0]["code"] == "eliminated"


def test_quote_shows_the_expected_cost_of_the_order_and_of_the_runner_up(runner, env):
    """Two eligible wallets: the table line names both expected costs; --json carries them."""
    args = [
        "route", "quote", "--amount", "250", "--payer", "0241234567",
        "--wallet", "mtn:0241234567", "--wallet", "telecel:0201234567", "--payee", "0551234567",
    ]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "expected cost of this order:" in result.stdout
    assert "runner-up (starting with mtn)" in result.stdout
    body = json.loads(runner.invoke(app, [*args, "--json"], env=env).stdout)
    costs = body["decision"]["expected_cost"]
    assert costs["runner_up"]["first"] == "mtn"
    assert costs["runner_up"]["cost"] >= costs["chosen"]


def test_the_merchants_prompt_cost_is_an_option(runner, env):
    """--prompt-cost 5.00 (GHS per prompt) makes the dearer but surer MTN go first."""
    args = [
        "route", "quote", "--amount", "250", "--payer", "0241234567",
        "--wallet", "mtn:0241234567", "--wallet", "telecel:0201234567", "--payee", "0551234567",
        "--success", "telecel=0.5", "--json",
    ]  # fmt: skip
    cheap = json.loads(runner.invoke(app, args, env=env).stdout)
    assert cheap["decision"]["chosen"] == "telecel"
    dear = json.loads(runner.invoke(app, [*args, "--prompt-cost", "5.00"], env=env).stdout)
    assert dear["decision"]["chosen"] == "mtn"
    assert dear["decision"]["costs"]["prompt_cost_minor"] == 500
    assert cheap["decision"]["costs"]["prompt_cost_minor"] == 10


def test_open_circuit_filters_the_provider(runner, env):
    """--open mtn filters MTN with circuit_open."""
    args = [*QUOTE[:6], "--wallet", "mtn:0241234567", "--open", "mtn", "--json"]
    body = json.loads(runner.invoke(app, args, env=env).stdout)
    assert body["decision"]["chosen"] is None
    assert body["decision"]["rejected"][0]["code"] == "circuit_open"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wallet", "mtn0241234567"], "bad --wallet 'mtn0241234567': expected provider:msisdn"),
        (["--wallet", "mtn:0241234567="], "bad --wallet"),
        (["--wallet", "orange:0241234567"], "unknown provider 'orange'"),
        (["--wallet", "mtn:12345"], "is not a Ghana mobile number"),
        (["--wallet", "mtn:0241234567=12.345"], "more than 2 decimal places"),
        (["--success", "mtn=1.5"], "bad --success 'mtn=1.5'"),
        (["--date", "26/11/2026"], "--date must be YYYY-MM-DD"),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_no_traceback(runner, env, args, message):
    """Every malformed option is one clear line on stderr and exit code 2."""
    base = ["route", "quote", "--amount", "250", "--payer", "0241234567"]
    result = runner.invoke(app, [*base, *args], env=env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_amount_outside_the_configured_range_is_rejected(runner, env):
    """MAX_TRANSACTION_AMOUNT applies to quotes too."""
    result = runner.invoke(
        app,
        ["route", "quote", "--amount", "600", "--payer", "0241234567"],
        env={**env, "MAX_TRANSACTION_AMOUNT": "500.00"},
    )
    assert result.exit_code == 2
    assert "outside the allowed range 1.00-500.00" in result.stderr


def test_e_levy_of_2022_is_quoted_for_that_date(runner, env):
    """On 2022-06-01 a 250 P2P transfer pays 1.5 % E-Levy on the part above GHS 100 (2.25)."""
    args = [
        "route", "quote", "--amount", "250", "--payer", "0241234567",
        "--payee", "0551234567", "--date", "2022-06-01", "--json",
    ]  # fmt: skip
    body = json.loads(runner.invoke(app, args, env=env).stdout)
    assert body["decision"]["candidates"][0]["fee"]["levy"] == "2.25"
