"""Each benchmark module runs end to end with tiny parameters and ends with its summary line.

Benchmarks are commands that print numbers; these tests only check that every one of them
still runs against the real PostgreSQL, Redis and processes, and prints its machine-readable
last line with the keys `make bench` reads. No number is asserted beyond what must hold
for any correct run (nothing lost, nothing debited twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from synccash.bench.run_all import parse_last_line

# Away from the benches' own databases (a `make bench` may be running) and the test Redis db.
ENV = {
    **os.environ,
    "BENCH_DATABASE": "synccash_bench_smoke",
    "BENCH_REDIS_URL": "redis://127.0.0.1:6379/11",
}


def _run(module: str, *args: str, timeout: float = 90) -> dict[str, float | str]:
    # its own session: on a timeout the benchmark's API, workers and sandbox go with it
    process = subprocess.Popen(
        [sys.executable, "-m", f"synccash.bench.{module}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # the benchmark stops its processes on SIGTERM
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"{module} did not finish in {timeout:.0f} s:\n{stdout[-2000:]}")
    assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]
    return parse_last_line(stdout)


@pytest.mark.integration
@pytest.mark.slow
def test_core_prints_decisions_per_second() -> None:
    """bench-core's last line is core_decisions_per_s=<n>."""
    numbers = _run("core", "--seconds", "0.3")
    assert set(numbers) == {"core_decisions_per_s"}


@pytest.mark.integration
@pytest.mark.slow
def test_lifecycle_confirms_every_payment_once() -> None:
    """bench-lifecycle on a handful of payments: its summary line, nothing lost or doubled."""
    numbers = _run(
        "lifecycle",
        *("--payments", "6", "--workers", "1", "--warmup", "0"),
        *("--connections", "4", "--pgbench-seconds", "1", "--pgbench-clients", "2"),
    )
    assert set(numbers) == {
        "lifecycle_per_s",
        "pgbench_limit_per_s",
        "ratio",
        "lost",
        "double_debits",
    }
    assert numbers["lost"] == 0
    assert numbers["double_debits"] == 0


@pytest.mark.integration
@pytest.mark.slow
def test_scaling_prints_throughput_per_worker_count_and_peak_rss() -> None:
    """bench-scaling with one worker count (no paced rates) names it in its summary line."""
    numbers = _run(
        "scaling",
        *("--payments", "3", "--workers", "1", "--rates", ""),
        *("--warmup", "0", "--connections", "3"),
    )
    assert set(numbers) == {"scaling_w1_per_s", "api_peak_rss_mb", "worker_peak_rss_mb"}
    assert float(numbers["api_peak_rss_mb"]) > 0


def test_last_line_parsing() -> None:
    """`key=value` pairs of the last non-empty line become numbers where they are numbers."""
    output = "table\nlifecycle_per_s=312 ratio=0.75 note=x\n\n"
    assert parse_last_line(output) == {"lifecycle_per_s": 312, "ratio": 0.75, "note": "x"}
    assert parse_last_line("no pairs here\n") == {}
