"""The chaos run in its CI size: 300 payments through the full stack while it is being broken.

One run per module (a few minutes): separate processes for the API, two workers and the
sandboxes, a private PostgreSQL instance (restarted and its backends terminated mid-run),
a private Redis (flushed and crashed mid-run), workers killed with SIGKILL and one frozen
past the visibility timeout, the API killed mid-burst, provider 5xx/timeouts/outage/latency and lossy,
duplicated, out-of-order callbacks. The tests then read the figures the run computed
against the sandboxes' ledgers.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from synccash.chaos import ChaosConfig, ChaosReport, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]

PAYMENTS = 300


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ChaosReport:
    """The module's one chaos run (its report also lands in <workdir>/report.txt)."""
    workdir = tmp_path_factory.mktemp("chaos")
    config = ChaosConfig(
        payments=PAYMENTS,
        outage_seconds=10.0,
        settle_seconds=150.0,
        redis_url=os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/11"),
        workdir=workdir,
    )
    result = anyio.run(run_chaos, config)
    Path(workdir, "report.txt").write_text("\n".join(result.lines(detail_limit=500)) + "\n")
    print("\n".join(result.lines()))  # shown with -s and on failure
    return result


def _summary(report: ChaosReport) -> str:
    return "\n".join(report.lines())


def _unexplained(report: ChaosReport, figure: str) -> list[str]:
    details = [d for d in report.findings.details if d.startswith(f"{figure}: ")]
    assert len(details) == getattr(report.findings, figure)
    return details


def test_every_accepted_payment_is_stored_and_debited_at_most_once(report):
    """No 202 lost (payments and events), no payment debited twice."""
    findings = report.findings
    assert findings.payments >= PAYMENTS, _summary(report)
    assert (findings.lost, findings.double_debits) == (0, 0), _summary(report)


def test_every_payment_is_terminal_after_the_quiet_period(report):
    """Nothing is left in flight after the quiet period."""
    assert _unexplained(report, "stuck") == [], _summary(report)


def test_every_state_agrees_with_the_provider_ledgers_and_audit_trail(report):
    """CONFIRMED/REFUNDED/FAILED/EXPIRED/CANCELLED each match the ledgers; trails are whole."""
    assert _unexplained(report, "mismatched") == [], _summary(report)


def test_programs_survive_the_faults(report):
    """No program died unasked (PostgreSQL restart, FLUSHDB, provider faults)."""
    assert report.crashes == [], _summary(report)


def test_logs_leak_no_msisdn_token_or_secret(report):
    """The API and worker logs of the run hold no full MSISDN, bearer token or secret."""
    assert report.leaks == [], _summary(report)


def test_the_run_settled_and_every_fault_was_injected(report):
    """The stack went quiet in time and every scheduled fault action succeeded."""
    failed = [line for line in report.journal if "FAULT ACTION FAILED" in line]
    assert (report.settled_after_s is not None, failed) == (True, []), _summary(report)


def test_no_answer_is_a_5xx_other_than_503(report):
    """Through terminated backends, a PostgreSQL restart, a Redis crash and an API kill, the
    API answers 2xx/4xx or 503 + Retry-After, never another 5xx."""
    assert "api_5xx_not_503=0 " in report.measured, _summary(report)


def test_every_key_retried_after_the_api_kill_resolves_to_its_payment(report):
    """The API killed with initiates in flight: within 10 s of it answering again, every
    key its client retried got its payment (202, or the 200 replay of a committed one)."""
    assert "api_kill_keys_unknown=0 " in report.measured, _summary(report)
