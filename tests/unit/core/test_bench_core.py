"""bench-core: the benchmark runs real decisions and keeps its output contract."""

from synccash.bench.core import main, measure


def test_measure_counts_decisions_and_both_clocks():
    """A short run makes whole batches of routed decisions and reports wall and CPU time."""
    rate = measure(0.01)
    assert rate.decisions >= 200
    assert rate.decisions % 200 == 0
    assert rate.wall_seconds > 0
    assert rate.cpu_seconds >= 0
    assert rate.wall_per_s > 0
    assert rate.cpu_per_s > 0


def test_last_line_is_the_wall_clock_rate(capsys):
    """The CPU-time rate comes first; the last line stays `core_decisions_per_s=<n>`."""
    main(["--seconds", "0.01"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("core_decisions_per_cpu_s=")
    key, _, value = lines[-1].partition("=")
    assert key == "core_decisions_per_s"
    assert value.isdigit()
