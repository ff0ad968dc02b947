"""`--chart out.png`: success over time per policy, SyncCash's provider share, and a scatter.

Every policy stays visible: each has its own colour, line style and hollow marker, and
the markers of different policies sit at different hours, so a line under another still
shows. A second panel plots each policy's success minus cheapest+failover's, where
coinciding lines come apart. The scatters put each policy at (fees paid, success rate)
with the marker's area proportional to the prompts its payers saw, and at (fees paid,
prompts); the legend carries the numbers.

matplotlib is an optional extra (`chart`): it is imported only when a chart is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from synccash.cli._errors import CliError
from synccash.cli.simulate.engine import SimulationResult
from synccash.core.providers import ProviderId

#: What `--chart` says when the optional extra is not installed (production images lack it).
MISSING_MATPLOTLIB = (
    "--chart needs matplotlib, which is not installed: pip install 'synccash-tools[chart]' "
    "(in a checkout, `make setup` installs it)"
)

_COLOURS: Final = {
    ProviderId.MTN.value: "#ffcb05",
    ProviderId.TELECEL.value: "#e60000",
    ProviderId.AIRTELTIGO.value: "#1f4e9c",
}
#: (colour, line style, marker) per policy; unknown policies cycle through the rest.
_STYLES: Final = {
    "synccash": ("#111111", "-", "o"),
    "cheapest-only": ("#1b9e77", "--", "s"),
    "mtn-only": ("#d4a017", ":", "^"),
    "round-robin": ("#7570b3", "-.", "D"),
    "cheapest+failover": ("#e7298a", (0, (5, 2, 1, 2)), "v"),
    "cheapest+failover+balance": ("#a6761d", (0, (3, 1, 1, 1, 1, 1)), "P"),
    "oracle": ("#66a61e", (0, (1, 1)), "*"),
}


def write_chart(result: SimulationResult, path: Path) -> None:
    """Render the run as a three-panel PNG (matplotlib, Agg backend: no display needed)."""
    try:
        import matplotlib as mpl  # noqa: PLC0415  (optional extra, slow import)
    except ImportError:
        raise CliError(MISSING_MATPLOTLIB) from None

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig = plt.figure(figsize=(12, 14))
    grid = fig.add_gridspec(3, 2, height_ratios=(1.2, 1.0, 1.0))
    axes = (
        fig.add_subplot(grid[0, :]),
        fig.add_subplot(grid[1, 0]),
        fig.add_subplot(grid[1, 1]),
        fig.add_subplot(grid[2, 0]),
        fig.add_subplot(grid[2, 1]),
    )
    try:
        _timeline(axes[0], result)
        _difference(axes[1], result)
        _share(axes[2], result)
        _scatter(axes[3], result, prompts_axis=False)
        _scatter(axes[4], result, prompts_axis=True)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)


def _hours(result: SimulationResult) -> list[float]:
    # steps-post needs the right edge of the last slice repeated to draw it
    return [i * result.bucket_hours for i in range(len(result.results[0].buckets) + 1)]


def _style(name: str) -> tuple[str, Any, str]:
    return _STYLES.get(name, ("#999999", "-", "x"))


def _rates(buckets: list[Any]) -> list[float]:
    rates = [float("nan") if b.success_rate is None else 100 * b.success_rate for b in buckets]
    rates.append(rates[-1])
    return rates


def _timeline(ax: Any, result: SimulationResult) -> None:
    hours = _hours(result)
    every = max(len(result.results), len(hours) // 12)
    for i, policy in enumerate(result.results):
        colour, style, marker = _style(policy.name)
        ax.plot(
            hours,
            _rates(policy.buckets),
            label=f"{policy.name} ({100 * policy.success_rate:.2f}%)",
            color=colour,
            linestyle=style,
            marker=marker,
            markevery=(i % every, every),  # each policy's markers at its own hours
            markersize=7,
            markerfacecolor="none",
            linewidth=1.4,
            drawstyle="steps-post",
        )
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", ncols=3, fontsize="small")
    ax.set_title(f"{result.scenario.name}: {result.payments} payments, seed {result.seed}")
    ax.set_xlabel(f"hours since {result.scenario.start:%Y-%m-%d %H:%M} UTC")


def _difference(ax: Any, result: SimulationResult) -> None:
    """Each policy's success minus the fair baseline's, slice by slice."""
    names = [r.name for r in result.results]
    if "cheapest+failover" not in names:
        ax.set_visible(False)
        return
    hours = _hours(result)
    fair = _rates(result.by_name("cheapest+failover").buckets)
    every = max(len(result.results), len(hours) // 12)
    for i, policy in enumerate(result.results):
        if policy.name in {"cheapest+failover", "cheapest-only", "mtn-only", "round-robin"}:
            continue
        colour, style, marker = _style(policy.name)
        delta = [a - b for a, b in zip(_rates(policy.buckets), fair, strict=True)]
        ax.plot(
            hours,
            delta,
            label=policy.name,
            color=colour,
            linestyle=style,
            marker=marker,
            markerfacecolor="none",
            markevery=(i % every, every),  # staggered, as in the timeline
            drawstyle="steps-post",
        )
    ax.axhline(0.0, color=_style("cheapest+failover")[0], linewidth=1.0, label="cheapest+failover")
    ax.set_ylabel("success minus cheapest+failover (points)")
    ax.set_xlabel("hours")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")


def _share(ax: Any, result: SimulationResult) -> None:
    hours = _hours(result)
    synccash = result.by_name("synccash")
    shares: dict[str, list[float]] = {p.value: [] for p in ProviderId}
    for bucket in synccash.buckets:
        total = sum(bucket.first_choice.values())
        for provider, values in shares.items():
            values.append(100 * bucket.first_choice[provider] / total if total else 0.0)
    for values in shares.values():
        values.append(values[-1])
    ax.stackplot(
        hours,
        *shares.values(),
        labels=list(shares),
        colors=[_COLOURS[p] for p in shares],
        step="post",
        alpha=0.85,
    )
    ax.set_ylabel("SyncCash first choice (%)")
    ax.set_xlabel("hours")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left", ncols=3, fontsize="small")


def _scatter(ax: Any, result: SimulationResult, *, prompts_axis: bool) -> None:
    biggest = max(r.prompts for r in result.results) or 1
    for policy in result.results:
        colour, _, marker = _style(policy.name)
        fees = policy.fees_minor / 100
        success = 100 * policy.success_rate
        ax.scatter(
            fees,
            policy.prompts if prompts_axis else success,
            s=60 if prompts_axis else 40 + 360 * policy.prompts / biggest,
            facecolors="none",
            edgecolors=colour,
            marker=marker,
            linewidths=1.6,
            label=f"{policy.name}: {success:.2f}%, GHS {fees:,.2f}, {policy.prompts} prompts",
        )
    ax.set_xlabel("fees paid (GHS)")
    if prompts_axis:
        ax.set_ylabel("prompts the payers saw")
        ax.set_title("prompts vs fees", fontsize="medium")
    else:
        ax.set_ylabel("success rate (%)")
        ax.set_title("success vs fees (marker area: prompts)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.margins(x=0.15, y=0.15)
    ax.legend(loc="best", fontsize="x-small", markerscale=0.5)
