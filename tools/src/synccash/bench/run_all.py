"""`make bench`: every benchmark in turn, bench/results.json, and a short table.

Runs `python -m synccash.bench.<name>` for core, db, api, lifecycle and scaling (or the
ones named), echoes their output, parses each one's machine-readable last line
(`key=value ...`) and writes them with the machine's core count, the load average before
and after each benchmark (other work on the box skews every number), the date and the
git commit to bench/results.json.

    uv run python -m synccash.bench.run_all [core db api lifecycle scaling] [--out bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ALL: Final = ("core", "db", "api", "lifecycle", "scaling")

#: Per-benchmark arguments sized so the whole run stays under ten minutes on two cores.
ARGS: Final[dict[str, tuple[str, ...]]] = {
    "core": ("--seconds", "5"),
    # one client process per core, as an API deployment on this box would run
    "db": ("--seconds", "8", "--processes", str(os.cpu_count() or 1)),
    "api": ("--seconds", "8"),
    "lifecycle": ("--payments", "2000", "--workers", "2"),
    "scaling": ("--payments", "300", "--seconds", "2"),
}

#: What each benchmark's headline is measured against (issue 8's targets).
TARGETS: Final[dict[str, str]] = {
    "core": "core_decisions_per_s >= 20000",
    "db": "ratio >= 0.7",
    "api": "initiate_rps >= 800, p99_ms <= 50, rss_mb <= 200, ratio (to bare_rps) >= 0.5",
    "lifecycle": "lifecycle_per_s >= 300, lost = 0, double_debits = 0",
    "scaling": "",
}


def parse_last_line(output: str) -> dict[str, float | str]:
    """`a=1 b=2.5 c=x` on the last non-empty line -> {"a": 1, "b": 2.5, "c": "x"}."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return {}
    values: dict[str, float | str] = {}
    for part in lines[-1].split():
        key, sep, raw = part.partition("=")
        if not sep:
            return {}
        try:
            number = float(raw)
        except ValueError:
            values[key] = raw
        else:
            values[key] = int(number) if number.is_integer() else number
    return values


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_one(name: str, extra: list[str], json_path: Path | None) -> dict[str, Any]:
    """Run one benchmark module, echo its output, return its numbers."""
    command = [sys.executable, "-m", f"synccash.bench.{name}", *ARGS.get(name, ()), *extra]
    if json_path is not None:
        command += ["--json", str(json_path)]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    load_before, started = _load(), time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None  # noqa: S101  (PIPE above)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    code = process.wait()
    result: dict[str, Any] = {
        "command": " ".join(command[1:]),
        "exit_code": code,
        "seconds": round(time.monotonic() - started, 1),
        "load_average_before": load_before,
        "load_average_after": _load(),
        "target": TARGETS.get(name, ""),
        "numbers": parse_last_line("".join(lines)) if code == 0 else {},
    }
    if json_path is not None and json_path.exists():
        result["details"] = json.loads(json_path.read_text())
        json_path.unlink()
    if code != 0:
        result["error_tail"] = "".join(lines[-20:])
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    """The short table `make bench` prints."""
    rows = [f"{'benchmark':<10} {'s':>5}  {'load':>5}  numbers (last line)"]
    for name, result in results.items():
        numbers = result["numbers"]
        shown = (
            " ".join(f"{k}={v}" for k, v in numbers.items())
            if numbers
            else f"FAILED (exit {result['exit_code']})"
        )
        load = result["load_average_before"].split()[0]
        rows.append(f"{name:<10} {result['seconds']:>5.0f}  {load:>5}  {shown}")
    return "\n".join(rows)


def main() -> None:
    """Run the chosen benchmarks, write the results file, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(ALL)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    names = args.names or list(ALL)
    unknown = sorted(set(names) - set(ALL))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    details = {"lifecycle", "scaling"}
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        json_path = args.out.parent / f".{name}.json" if name in details else None
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results[name] = run_one(name, [], json_path)
    document: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "results": results,
    }
    if args.out.exists() and set(names) != set(ALL):  # a partial run keeps the other results
        previous = json.loads(args.out.read_text())
        document["results"] = {**previous.get("results", {}), **results}
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{table(results)}\n\nwritten to {args.out}")
    failed = [name for name, result in results.items() if result["exit_code"] != 0]
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
