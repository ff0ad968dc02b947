"""`synccash route quote` and `synccash route simulate`: the real core Router, in-process."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from synccash.cli._console import console, err_console
from synccash.cli._errors import usage_error
from synccash.cli._output import print_json, table
from synccash.cli._settings import load_settings
from synccash.cli._wallets import WALLET_HELP, parse_wallets
from synccash.cli.simulate import Scenario, SimulationResult, load_scenario, simulate, sweep
from synccash.cli.simulate.chart import write_chart
from synccash.core.errors import AmountOutOfRange
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, HealthTracker, ProviderHealth
from synccash.core.routing import Router, RoutingCosts, RoutingDecision, RoutingRequest
from synccash.core.service import parse_payee
from synccash.core.service import parse_wallets as validate_wallets

app = typer.Typer(
    name="route", help="Routing decisions and what-if simulations.", no_args_is_help=True
)


def _health_overrides(
    success: list[str] | None, circuit_open: list[str] | None, now: datetime
) -> dict[ProviderId, ProviderHealth]:
    health = dict(HealthTracker().snapshot(now))
    for spec in success or ():
        name, sep, raw = spec.partition("=")
        try:
            rate = float(raw)
        except ValueError:
            rate = -1.0
        if not sep or not 0.0 <= rate <= 1.0:
            usage_error(
                f"bad --success {spec!r}: expected provider=rate with rate in 0..1, e.g. mtn=0.8"
            )
        provider = ProviderId.parse(name)
        old = health[provider]
        health[provider] = ProviderHealth(
            provider, rate, 100, old.p50_latency_ms, old.p95_latency_ms, old.circuit
        )
    for name in circuit_open or ():
        provider = ProviderId.parse(name)
        old = health[provider]
        health[provider] = ProviderHealth(
            provider, old.success_rate, old.samples, old.p50_latency_ms, old.p95_latency_ms,
            CircuitState.OPEN,
        )  # fmt: skip
    return health


def _quote_table(decision: RoutingDecision, amount: Money) -> None:
    rows: list[tuple[Any, ...]] = []
    for rank, c in enumerate(decision.candidates, start=1):
        status = "chosen" if rank == 1 else f"fallback {rank - 1}"
        rows.append(
            (
                status,
                c.wallet.provider.value,
                c.wallet.msisdn.masked,
                c.fee.provider_fee.to_decimal_string(),
                c.fee.levy.to_decimal_string(),
                c.fee.total_fee.to_decimal_string(),
                f"{100 * c.factors['provider_success']:.1f}",
                f"{100 * c.factors['funds']:.0f}",
                f"{100 * c.success_probability:.1f}",
                c.latency_ms,
                f"{c.factors['index']:.1f}",
            )
        )
    columns = (
        "rank", "provider", "wallet", "fee (GHS)", "levy (GHS)", "total fee (GHS)",
        "provider %", "funds %", "attempt %", "p95 ms", "index (pesewas)",
    )  # fmt: skip
    title = f"route quote for GHS {amount.to_decimal_string()}"
    console.print(table(title, columns, rows, numeric=columns[3:]))
    for r in decision.rejected:
        console.print(
            f"filtered: {r.wallet.provider.value} {r.wallet.msisdn.masked}: {r.code}: {r.message}"
        )
    chosen = decision.chosen
    if chosen is None:
        console.print("no route: every wallet was filtered out")
        return
    console.print(
        f"chosen: {chosen.wallet.provider.display_name} ({decision.approach}); "
        f"payer pays GHS {chosen.fee.payer_total.to_decimal_string()}"
    )
    console.print(_cost_line(decision))


def _cost_line(decision: RoutingDecision) -> str:
    """Expected cost of the chosen order and of the runner-up (pesewas-equivalent)."""
    line = f"expected cost of this order: {decision.expected_cost or 0.0:.1f} pesewas"
    if decision.runner_up is not None:
        first, cost = decision.runner_up
        line += f"; runner-up (starting with {first.value}): {cost:.1f}"
    if decision.explored:
        line += f"; exploration adds {decision.regret:.1f}"
    return line


@app.command(
    "quote",
    epilog=(
        "Examples:\n\n"
        "  synccash route quote --amount 250 --payer 0241234567 "
        "--wallet mtn:0241234567=500 --wallet telecel:0201234567=100 --payee 0551234567\n\n"
        "  synccash route quote --amount 250 --payer 0241234567 --wallet mtn:0241234567 "
        "--wallet telecel:0201234567 --payee 0551234567 --success mtn=0.6 --json\n\n"
        "  synccash route quote --amount 100 --payer 0241234567 --payee 0201234567 --date 2022-06-01"
    ),
)
def quote(
    *,
    amount: Annotated[str, typer.Option(help='Amount in GHS, e.g. "250" or "12.50".')],
    payer: Annotated[str, typer.Option(help="Payer MSISDN, e.g. 0241234567.")],
    wallet: Annotated[list[str] | None, typer.Option(help=WALLET_HELP, show_default=False)] = None,
    payee: Annotated[
        str | None, typer.Option(help="Payee wallet MSISDN (any network).", show_default=False)
    ] = None,
    merchant_account: Annotated[
        str | None,
        typer.Option(help="Or: pay the merchant's own account (the default).", show_default=False),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Fee rules of this day (YYYY-MM-DD); default today (UTC).",
            show_default=False,
        ),
    ] = None,
    success: Annotated[
        list[str] | None,
        typer.Option(
            help="Assume a provider's success rate, e.g. mtn=0.6; repeat.", show_default=False
        ),
    ] = None,
    circuit_open: Annotated[
        list[str] | None,
        typer.Option(
            "--open", help="Assume a provider's circuit is open; repeat.", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Exploration seed (the same seed, the same decision).")
    ] = 0,
    prompt_cost: Annotated[
        str | None,
        typer.Option(
            help='What one prompt to the payer is worth, GHS (λ; default "0.10").',
            show_default=False,
        ),
    ] = None,
    failure_penalty: Annotated[
        float | None,
        typer.Option(
            help="A failed payment costs this share of its amount (default 1.0).",
            min=0.0,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full explanation as JSON.")
    ] = False,
) -> None:
    """What the real core Router would choose: fees, success estimates, expected cost, why filtered."""
    if payee is not None and merchant_account is not None:
        usage_error("give at most one of --payee or --merchant-account")
    settings = load_settings()
    money = Money.parse(amount)
    if money < settings.min_amount or money > settings.max_amount:
        raise AmountOutOfRange(
            f"amount {money.to_decimal_string()} is outside the allowed range "
            f"{settings.min_amount.to_decimal_string()}-{settings.max_amount.to_decimal_string()} GHS"
        )
    now = datetime.now(UTC)
    day = now.date() if on is None else _parse_day(on)
    payer_msisdn = Msisdn.parse(payer)
    wallets = validate_wallets(payer_msisdn, parse_wallets(wallet), "GHS")
    target = parse_payee(payee, None if payee is not None else merchant_account or "merchant")
    health = _health_overrides(success, circuit_open, now)
    costs = _costs(prompt_cost, failure_penalty)
    request = RoutingRequest(money, wallets, target, day, costs=costs)
    decision = Router().decide(request, health, seed)
    if as_json:
        print_json(
            {
                "amount": money.to_decimal_string(),
                "currency": money.currency,
                "date": day.isoformat(),
                "payee": target.key if target.msisdn is None else target.msisdn.masked,
                "decision": decision.explain(),
            }
        )
        return
    _quote_table(decision, money)


def _costs(prompt_cost: str | None, failure_penalty: float | None) -> RoutingCosts | None:
    """The merchant's λ and penalty from the options (None: the defaults)."""
    if prompt_cost is None and failure_penalty is None:
        return None
    default = RoutingCosts()
    lam = default.prompt_cost_minor if prompt_cost is None else Money.parse(prompt_cost).minor
    share = default.failure_penalty_share if failure_penalty is None else failure_penalty
    return RoutingCosts(lam, share)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        usage_error(f"--date must be YYYY-MM-DD, got {text!r}")


def _summary(result: SimulationResult) -> None:
    rows = []
    for r in result.results:
        e = r.explain(result.bucket_hours, result.costs)
        brier = r.calibration.brier
        rows.append(
            (
                r.name,
                f"{100 * r.success_rate:.2f}",
                e["fees_paid"],
                r.prompts,
                r.attempts,
                r.failovers,
                r.failures.get("no_route", 0),
                r.waited,
                e["mean_time_to_final_ms"] or "-",
                "-" if brier is None else f"{brier:.3f}",
            )
        )
    columns = (
        "policy", "success %", "fees (GHS)", "prompts", "attempts", "failovers",
        "no route", "waited", "to final (ms)", "Brier",
    )  # fmt: skip
    title = (
        f"{result.scenario.name}: {result.payments} payments over {result.scenario.hours:g} h, "
        f"seed {result.seed}"
    )
    console.print(table(title, columns, rows, numeric=columns[1:]))
    for line in result.report.lines():
        console.print(line)


@app.command(
    "simulate",
    epilog=(
        "Examples:\n\n"
        "  synccash route simulate tools/scenarios/mtn-outage-midday.yaml\n\n"
        "  synccash route simulate tools/scenarios/at-degrading.yaml --payments 2000 --seed 3 "
        "--chart at.png\n\n"
        "  synccash route simulate tools/scenarios/month-end-peak.yaml --json > result.json"
    ),
)
def simulate_command(
    *,
    scenario: Annotated[
        Path, typer.Argument(help="Scenario YAML (see tools/scenarios/).", show_default=False)
    ],
    payments: Annotated[
        int | None,
        typer.Option(
            help="Number of payments (default: the scenario's).", min=1, show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed (default: the scenario's).", min=0, show_default=False)
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            help="Run this many consecutive seeds from --seed and report each and pooled.",
            min=1,
            max=1000,
        ),
    ] = 1,
    buckets: Annotated[
        int, typer.Option(help="Time slices for the timeline.", min=1, max=1000)
    ] = 48,
    chart: Annotated[
        Path | None, typer.Option(help="Write a PNG chart here.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Replay synthetic payments through the real core and compare SyncCash with baselines."""
    spec = load_scenario(scenario)
    if seeds > 1:
        if chart is not None:
            usage_error("--chart draws one run: leave out --seeds, or --chart")
        _sweep(spec, payments, seed, seeds, as_json=as_json)
        return
    total = payments if payments is not None else spec.payments
    with _progress() as bar:
        task = bar.add_task(f"simulating {spec.name}", total=total)
        result = simulate(
            spec,
            payments=payments,
            seed=seed,
            buckets=buckets,
            progress=lambda done: bar.update(task, completed=done),
        )
    if chart is not None:
        write_chart(result, chart)
        err_console.print(f"chart written to {chart}")
    if as_json:
        print_json(result.explain())
        return
    _summary(result)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _sweep(
    spec: Scenario, payments: int | None, seed: int | None, seeds: int, *, as_json: bool
) -> None:
    with _progress() as bar:
        task = bar.add_task(f"simulating {spec.name} x {seeds} seeds", total=seeds)
        result = sweep(
            spec,
            seeds=seeds,
            payments=payments,
            first_seed=seed,
            progress=lambda done: bar.update(task, completed=done),
        )
    if as_json:
        print_json(result.explain())
        return
    rows = []
    for run in result.runs:
        target = run.report.target
        if target is None:  # pragma: no cover - the default policies include the fair baseline
            continue
        rows.append(
            (
                run.seed,
                f"{target.success_gap_points:+.2f}",
                target.best_baseline,
                f"{target.fee_ratio:.3f}",
                f"{target.prompt_difference:+d}",
                "yes" if target.met else "NO",
            )
        )
    columns = (
        "seed",
        "success vs best (pts)",
        "best baseline",
        "fees / c+f",
        "prompts - c+f",
        "met",
    )
    console.print(
        table(f"{spec.name}: {seeds} seeds", columns, rows, numeric=columns[1:2] + columns[3:5])
    )
    met = sum(1 for row in rows if row[-1] == "yes")
    console.print(f"target met on {met} of {len(rows)} seeds; pooled over all seeds:")
    for line in result.report.lines():
        console.print(line)
