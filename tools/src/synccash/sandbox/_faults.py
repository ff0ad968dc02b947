"""Fault injection knobs, one set per sandbox, drawn from a seeded RNG."""

from __future__ import annotations

import random
from typing import Any

from attrs import asdict, define, field, fields

from synccash.sandbox._world import SandboxError

_RATES = (
    "error_rate",
    "timeout_after_accept_rate",
    "error_after_effect_rate",
    "rate_limit_rate",
    "drop_callback_rate",
    "duplicate_callback_rate",
    "out_of_order_callback_rate",
)


@define
class Faults:
    """What a sandbox does wrong on purpose. All rates are probabilities in [0, 1].

    - ``latency_ms`` is added to every request, plus a uniform ``0..latency_jitter_ms``.
    - ``error_rate``: a 5xx in the provider's shape before anything is done.
    - ``timeout_after_accept_rate``: the request is processed and recorded, then the
      response is held ``hold_seconds`` (or until the client disconnects).
    - ``error_after_effect_rate``: the request is processed and recorded (it took
      effect), then answered with a 5xx (``error_status``) in the provider's shape.
    - ``rate_limit_rate``: 429 with ``Retry-After: retry_after_seconds``, nothing done.
    - ``drop_callback_rate`` / ``duplicate_callback_rate``: callbacks lost / sent twice
      (the second ``duplicate_delay_seconds`` after the first).
    - ``out_of_order_callback_rate``: a stale pending-type callback after the final one.
    - ``outage``: every provider request gets 503 until ``outage_until`` (epoch
      seconds on the sandbox clock; None = until switched off).
    - ``seed``: reseeds the RNG when set through ``set_faults``.
    """

    latency_ms: int = 0
    latency_jitter_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    timeout_after_accept_rate: float = 0.0
    error_after_effect_rate: float = 0.0
    hold_seconds: float = 30.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    drop_callback_rate: float = 0.0
    duplicate_callback_rate: float = 0.0
    duplicate_delay_seconds: float = 0.0
    out_of_order_callback_rate: float = 0.0
    outage: bool = False
    outage_until: float | None = None
    seed: int | None = None
    _rng: random.Random = field(factory=lambda: random.Random(0), repr=False, eq=False)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (no RNG draw when the rate is 0 or 1)."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        return self._rng.random() < rate

    def extra_latency_seconds(self) -> float:
        """Latency to add to this request."""
        jitter = self._rng.randint(0, self.latency_jitter_ms) if self.latency_jitter_ms else 0
        return (self.latency_ms + jitter) / 1000

    def in_outage(self, now: float) -> bool:
        """True while the outage window is open."""
        if not self.outage:
            return False
        return self.outage_until is None or now < self.outage_until

    def update(self, **changes: Any) -> None:
        """Change some knobs, checking names and ranges; ``seed`` reseeds the RNG."""
        known = {f.name for f in fields(Faults) if not f.name.startswith("_")}
        unknown = set(changes) - known
        if unknown:
            raise SandboxError(f"unknown fault setting(s): {sorted(unknown)}")
        for name, value in changes.items():
            if name in _RATES and not 0 <= float(value) <= 1:
                raise SandboxError(f"{name} must be within [0, 1], got {value!r}")
        for name, value in changes.items():
            setattr(self, name, value)
        if changes.get("seed") is not None:
            self._rng.seed(changes["seed"])

    def reset(self) -> None:
        """Back to no faults, keeping the seed (the RNG restarts from it)."""
        seed = self.seed
        for f in fields(Faults):
            if not f.name.startswith("_"):
                setattr(self, f.name, f.default)
        self.seed = seed
        self._rng.seed(seed or 0)

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the admin API."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}
