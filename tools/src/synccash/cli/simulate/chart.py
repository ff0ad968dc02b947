"""`--chart out.png`: success rate over time per policy and SyncCash's provider share."""

from __future__ import annotations

from pathlib import Path

from synccash.cli._errors import CliError
from synccash.cli.simulate.engine import SimulationResult
from synccash.core.providers import ProviderId

_COLOURS = {
    ProviderId.MTN.value: "#ffcb05",
    ProviderId.TELECEL.value: "#e60000",
    ProviderId.AIRTELTIGO.value: "#1f4e9c",
}


#: What `--chart` says when the optional extra is not installed (production images lack it).
MISSING_MATPLOTLIB = (
    "--chart needs matplotlib, which is not installed: pip install 'synccash-tools[chart]' "
    "(in a checkout, `make setup` installs it)"
)


def write_chart(result: SimulationResult, path: Path) -> None:
    """Render the run as a two-panel PNG (matplotlib, Agg backend: no display needed)."""
    try:
        import matplotlib as mpl  # noqa: PLC0415  (slow import, only when a chart is asked for)
    except ImportError:
        raise CliError(MISSING_MATPLOTLIB) from None

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    # steps-post needs the right edge of the last slice repeated to draw it
    hours = [i * result.bucket_hours for i in range(len(result.results[0].buckets) + 1)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    try:
        for policy in result.results:
            rates = [
                float("nan") if b.success_rate is None else 100 * b.success_rate
                for b in policy.buckets
            ]
            rates.append(rates[-1])
            ours = policy.name == "synccash"
            top.plot(
                hours,
                rates,
                label=policy.name,
                linewidth=2.6 if ours else 1.3,
                drawstyle="steps-post",
                zorder=3 if ours else 2,  # SyncCash on top where lines coincide
                alpha=1.0 if ours else 0.8,
            )
        top.set_ylabel("success rate (%)")
        top.set_ylim(0, 100)
        top.grid(alpha=0.3)
        top.legend(loc="lower left", ncols=3, fontsize="small")
        top.set_title(f"{result.scenario.name}: {result.payments} payments, seed {result.seed}")

        synccash = result.by_name("synccash")
        shares: dict[str, list[float]] = {p.value: [] for p in ProviderId}
        for bucket in synccash.buckets:
            total = sum(bucket.first_choice.values())
            for provider, values in shares.items():
                values.append(100 * bucket.first_choice[provider] / total if total else 0.0)
        for values in shares.values():
            values.append(values[-1])
        bottom.stackplot(
            hours,
            *shares.values(),
            labels=list(shares),
            colors=[_COLOURS[p] for p in shares],
            step="post",
            alpha=0.85,
        )
        bottom.set_ylabel("SyncCash first choice (%)")
        bottom.set_xlabel(f"hours since {result.scenario.start:%Y-%m-%d %H:%M} UTC")
        bottom.set_ylim(0, 100)
        bottom.legend(loc="lower left", ncols=3, fontsize="small")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
