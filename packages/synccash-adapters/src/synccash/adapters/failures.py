"""Quiet, bounded failure reporting for components that keep failing (a relay, a scheduler,
a pooled connection) while a dependency is away.

A loop that logged a traceback on every failure wrote hundreds of them per minute while the
database was away and hid what happened. `FailureLog` logs an episode's first failure once,
with its cause and traceback, then at most one line per `every_s` with the count so far, and
one line when the component works again. Each component also has a status (failing or not,
consecutive failures, the last cause) for the detailed health check, and listeners (metrics)
are told of every change.

A component that cannot tell when it works again (a request path sees only its failures)
counts as recovered `quiet_s` after its last failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import structlog
from attrs import define, frozen
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

#: At most one "still failing" line per component this often.
EVERY_S: Final = 30.0
#: A component with no failure for this long counts as recovered.
QUIET_S: Final = 10.0

_log = structlog.get_logger(__name__)


@frozen
class ComponentStatus:
    """What the detailed health check shows of one component."""

    component: str
    failing: bool
    failures: int  # in the current (or last) episode
    failing_for_s: float  # 0 when not failing
    last_error: str | None


@define
class _Episode:
    started: float = 0.0
    last_failure: float = 0.0
    last_logged: float = 0.0
    failures: int = 0
    logged_failures: int = 0
    failing: bool = False
    last_error: str | None = None


#: Told (component, failing) when a component starts or stops failing.
Listener = Callable[[str, bool], None]


def dependency_unavailable(exc: BaseException) -> bool:
    """True for a lost or unreachable database or Redis (retry later), not a bug."""
    if isinstance(exc, OSError | ConnectionError | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, OSError | ConnectionError)
    )


def _cause(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class FailureLog:
    """Per component: log an episode's first failure, then a bounded rate, then recovery."""

    def __init__(
        self,
        *,
        every_s: float = EVERY_S,
        quiet_s: float = QUIET_S,
        now: Callable[[], float] = time.monotonic,
        logger: Any = None,
    ) -> None:
        self._every_s = every_s
        self._quiet_s = quiet_s
        self._now = now
        self._log = logger if logger is not None else _log
        self._episodes: dict[str, _Episode] = {}
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Call `listener(component, failing)` whenever a component starts or stops failing."""
        self._listeners.append(listener)

    def failed(self, component: str, exc: BaseException) -> None:
        """One more failure of `component` (logged only if it is due)."""
        now = self._now()
        episode = self._episodes.setdefault(component, _Episode())
        self._expire(component, episode, now)
        episode.failures += 1
        episode.last_failure = now
        episode.last_error = _cause(exc)
        if not episode.failing:
            episode.failing = True
            episode.started = episode.last_logged = now
            episode.logged_failures = 1
            self._log.warning(
                "component_failing", component=component, cause=episode.last_error, exc_info=exc
            )
            self._tell(component, failing=True)
        elif now - episode.last_logged >= self._every_s:
            self._log.warning(
                "component_still_failing",
                component=component,
                cause=episode.last_error,
                failures=episode.failures,
                since_last_log=episode.failures - episode.logged_failures,
                failing_for_s=round(now - episode.started, 1),
            )
            episode.last_logged = now
            episode.logged_failures = episode.failures

    def succeeded(self, component: str) -> None:
        """`component` worked: end its failure episode, if any (cheap when there is none)."""
        episode = self._episodes.get(component)
        if episode is not None and episode.failing:
            self._recover(component, episode, self._now())

    def statuses(self) -> list[ComponentStatus]:
        """Every component seen so far, by name."""
        now = self._now()
        result = []
        for component in sorted(self._episodes):
            episode = self._episodes[component]
            self._expire(component, episode, now)
            result.append(
                ComponentStatus(
                    component=component,
                    failing=episode.failing,
                    failures=episode.failures,
                    failing_for_s=round(now - episode.started, 1) if episode.failing else 0.0,
                    last_error=episode.last_error,
                )
            )
        return result

    def _expire(self, component: str, episode: _Episode, now: float) -> None:
        if episode.failing and now - episode.last_failure >= self._quiet_s:
            self._recover(component, episode, episode.last_failure + self._quiet_s)
        if not episode.failing:
            episode.failures = 0

    def _recover(self, component: str, episode: _Episode, at: float) -> None:
        self._log.info(
            "component_recovered",
            component=component,
            failures=episode.failures,
            failed_for_s=round(at - episode.started, 1),
        )
        episode.failing = False
        self._tell(component, failing=False)

    def _tell(self, component: str, *, failing: bool) -> None:
        for listener in self._listeners:
            listener(component, failing)


__all__ = [
    "EVERY_S",
    "QUIET_S",
    "ComponentStatus",
    "FailureLog",
    "Listener",
    "dependency_unavailable",
]
