"""The chaos run: the full stack as separate processes, broken on a schedule, then audited.

Usage::

    report = await run_chaos(ChaosConfig(payments=300, outage_seconds=10))
    print("\\n".join(report.lines()))   # last line: chaos payments=… lost=… double_debits=…
    assert report.ok

`python -m synccash.bench.chaos --payments N` is the command-line front end; `scan_logs`
and `scan_text` (no MSISDN, token or provider secret in logs) are shared with the e2e tests.
"""

from synccash.chaos._invariants import Findings
from synccash.chaos._logscan import default_secrets, scan_logs, scan_text
from synccash.chaos._run import ChaosConfig, ChaosReport, run_chaos
from synccash.chaos._stack import Timings

__all__ = [
    "ChaosConfig",
    "ChaosReport",
    "Findings",
    "Timings",
    "default_secrets",
    "run_chaos",
    "scan_logs",
    "scan_text",
]
