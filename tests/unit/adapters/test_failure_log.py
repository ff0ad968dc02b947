"""FailureLog: a component that keeps failing logs once with its cause, then at a bounded rate."""

from __future__ import annotations

from typing import Any

from synccash.adapters.failures import FailureLog, dependency_unavailable


class Clock:
    """Monotonic seconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Lines:
    """A logger that keeps what it was asked to log."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))


def _log(every_s: float = 30.0, quiet_s: float = 10.0) -> tuple[FailureLog, Clock, Lines]:
    clock, lines = Clock(), Lines()
    return FailureLog(every_s=every_s, quiet_s=quiet_s, now=clock, logger=lines), clock, lines


def test_one_line_with_the_cause_then_one_per_interval_with_a_count():
    """1,000 failures over 62.5 s: the first with its traceback, then one line per 30 s."""
    failures, clock, lines = _log()
    error = ConnectionError("connection is closed")
    for _ in range(1000):
        failures.failed("outbox_relay", error)
        clock.now += 0.0625
    assert [event for _, event, _ in lines.lines] == [
        "component_failing",
        "component_still_failing",
        "component_still_failing",
    ]
    first, second = lines.lines[0][2], lines.lines[1][2]
    assert first["exc_info"] is error
    assert first["cause"] == "ConnectionError: connection is closed"
    assert "exc_info" not in second
    assert second["failures"] == 481


def test_success_ends_the_episode_and_the_next_failure_logs_again():
    """Recovery is one line; a later failure starts a new episode with its cause."""
    failures, clock, lines = _log()
    failures.failed("scheduler", OSError("refused"))
    failures.failed("scheduler", OSError("refused"))
    clock.now += 2
    failures.succeeded("scheduler")
    failures.succeeded("scheduler")
    failures.failed("scheduler", OSError("reset"))
    assert [event for _, event, _ in lines.lines] == [
        "component_failing",
        "component_recovered",
        "component_failing",
    ]
    assert lines.lines[1][2]["failures"] == 2


def test_status_flags_and_listeners_follow_the_episode():
    """The health flag is up while failing; listeners hear start and end; quiet means healed."""
    failures, clock, _ = _log(quiet_s=10.0)
    changes: list[tuple[str, bool]] = []
    failures.on_change(lambda component, failing: changes.append((component, failing)))
    failures.failed("group_read", ConnectionError("lost"))
    failures.failed("group_read", ConnectionError("lost"))
    clock.now += 4
    [status] = failures.statuses()
    assert (status.failing, status.failures, status.failing_for_s) == (True, 2, 4.0)
    assert status.last_error == "ConnectionError: lost"
    clock.now += 10  # no failure for longer than quiet_s: recovered without a success call
    [status] = failures.statuses()
    assert (status.failing, status.failing_for_s) == (False, 0.0)
    assert changes == [("group_read", True), ("group_read", False)]


def test_lost_dependencies_are_told_from_bugs():
    """Connection-level errors count as 'unavailable'; a bug does not."""
    assert dependency_unavailable(ConnectionError("x"))
    assert dependency_unavailable(TimeoutError())
    assert not dependency_unavailable(ValueError("bug"))
