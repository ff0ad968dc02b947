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
from synccash.cli.simulate import SimulationResult, load_scenario, simulate
from synccash.cli.simulate.chart import write_chart
from synccash.core.errors import AmountOutOfRange
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, HealthTracker, ProviderHealth
from synccash.core.routing import Router, RoutingDecision, RoutingRequest
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
                f"{100 * c.success_probability:.1f}",
                c.latency_ms,
                f"{c.score:.4f}",
            )
        )
    columns = (
        "rank", "provider", "wallet", "fee (GHS)", "levy (GHS)", "total fee (GHS)",
        "success %", "p95 ms", "score",
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
    else:
        console.print(
            f"chosen: {chosen.wallet.provider.display_name} ({decision.approach}); "
            f"payer pays GHS {chosen.fee.payer_total.to_decimal_string()}"
        )


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
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full explanation as JSON.")
    ] = False,
) -> None:
    """What the real core Router would choose: fees, success estimate, score, why filtered."""
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
    decision = Router().decide(RoutingRequest(money, wallets, target, day), health, seed)
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


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        usage_error(f"--date must be YYYY-MM-DD, got {text!r}")


def _summary(result: SimulationResult) -> None:
    rows = []
    for r in result.results:
        e = r.explain(result.bucket_hours)
        rows.append(
            (
                r.name,
                f"{100 * r.success_rate:.2f}",
                f"{r.confirmed}/{r.payments}",
                e["fees_paid"],
                e["mean_fee_per_confirmed"] or "-",
                r.failovers,
                r.attempts,
                r.failures.get("no_route", 0),
                e["mean_time_to_final_ms"] or "-",
            )
        )
    columns = (
        "policy", "success %", "confirmed", "fees paid (GHS)", "fee/payment (GHS)",
        "failovers", "attempts", "no route", "time to final (ms)",
    )  # fmt: skip
    title = (
        f"{result.scenario.name}: {result.payments} payments over {result.scenario.hours:g} h, "
        f"seed {result.seed}"
    )
    console.print(table(title, columns, rows, numeric=columns[1:]))
    ours = result.by_name("synccash")
    best = max((r for r in result.results if r.name != "synccash"), key=lambda r: r.success_rate)
    delta = 100 * (ours.success_rate - best.success_rate)
    verdict = "beats" if delta > 0.05 else "matches" if delta >= -0.05 else "trails"
    console.print(
        f"SyncCash {verdict} the best baseline ({best.name}) by {delta:+.2f} points of success rate."
    )


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
    total = payments if payments is not None else spec.payments
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
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
