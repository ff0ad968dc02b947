"""Provider health shared by every worker and API replica through Redis.

Each provider's recent outcomes live in a capped list (`RPUSH` + `LTRIM`), one entry per
sample: `ok|latency_ms|epoch_ms|kind|transfer` (kind: one letter per `SampleKind`, empty for
the older two-valued form; entries written in the older three-field form still decode).
`record` does not talk to Redis: samples wait in this process and go out together, one round
trip (one script call) for all of them, when

- `flush()` is called (the worker calls it every `flush_interval_s` and on shutdown),
- a `record` finds the oldest waiting sample at least `flush_interval_s` old, or
- a snapshot refreshes its copy of the lists (the waiting samples are written in the same
  round trip, before the reads).

Health is advisory, so this trades durability for round trips: a crash loses the samples
of the last `flush_interval_s` (250 ms by default), and other replicas see a sample up to
that much later.

Snapshots are served from an in-process `HealthTracker`: the shared lists as last read,
replayed oldest first through the core's tracker (so the sliding window and circuit-breaker
rules are the core's, not a second copy), plus every sample this process recorded since
that read, applied the moment it is recorded. So:

- this process's own failures are in its very next snapshot (its circuit breaker opens on
  its own failures at once, before any flush or refresh), and so is any own sample for a
  provider whose circuit is not closed; its own successes on a healthy provider show at the
  next refresh (the computed snapshot is reused until then: routing every payment does not
  recompute the windows);
- the other replicas' samples in a snapshot are at most `max_staleness_s` old
  (`MAX_STALENESS_S`, 1 s, the old cache TTL, by default; measured on the monotonic clock,
  not on the `now` callers pass, which concurrent tasks take in any order, so out-of-order
  callers cannot force re-reads): a snapshot taken when the copy is older refreshes it
  first. Concurrent callers share one refresh. Counting the writer's flush interval,
  another replica's sample shows here within `flush_interval_s + max_staleness_s` (plus a
  round trip). The cool-down of an open circuit and the age limit of samples are evaluated
  at each refresh (and at each own failure), so they take effect up to `max_staleness_s`
  late.

A refresh costs one round trip. The lists come back as one comma-joined string per provider
(a read-only script joins them in Redis: parsing hundreds of replies in Python cost more
than the rest of the refresh); when they did not change the tracker is kept, and only the
entries not seen before are decoded.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import anyio
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from synccash.adapters.coordination import epoch_ms
from synccash.core.fees import TransferKind
from synccash.core.providers import ProviderId
from synccash.core.reliability import (
    CircuitState,
    HealthSample,
    HealthTracker,
    ProviderHealth,
    SampleKind,
)

#: Default bound (seconds) on how old the other replicas' samples in a snapshot may be: the
#: copy is re-read at most this often (each re-read replays up to `history` samples per
#: provider, about 1 ms of CPU), and never less often while snapshots are taken.
MAX_STALENESS_S: Final = 1.0


#: Append each KEYS[i]'s new entries (ARGV[2 + i], comma-joined; entries have no commas),
#: cap the list at ARGV[1] entries, and with ARGV[2] == '1' return every list comma-joined.
#: One command and one reply: redis-py packs and parses in Python, per argument and per
#: reply, which cost more than the rest of a flush or a refresh.
_SYNC: Final = """
local history = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local joined = ARGV[2 + i]
  if joined ~= '' then
    local entries = {}
    for entry in string.gmatch(joined, '[^,]+') do entries[#entries + 1] = entry end
    for j = 1, #entries, 1000 do
      redis.call('RPUSH', key, unpack(entries, j, math.min(j + 999, #entries)))
    end
    redis.call('LTRIM', key, -history, -1)
  end
  if ARGV[2] == '1' then
    out[i] = table.concat(redis.call('LRANGE', key, 0, -1), ',')
  end
end
return out
"""
_SYNC_SHA: Final = hashlib.sha1(_SYNC.encode()).hexdigest()  # noqa: S324 (Redis' script id)


#: One letter per sample kind on the wire (an entry without one is the older ok/failed form).
_KIND_CODES: Final = {
    SampleKind.CONFIRMED: "c",
    SampleKind.ACCEPTED: "a",
    SampleKind.FAILED: "f",
    SampleKind.REFUSED: "r",
    SampleKind.AMBIGUOUS: "u",
}
_KINDS_BY_CODE: Final = {code: kind for kind, code in _KIND_CODES.items()}
_TRANSFERS_BY_CODE: Final = {t.value: t for t in TransferKind}


def _encode(sample: HealthSample) -> str:
    kind = "" if sample.kind is None else _KIND_CODES[sample.kind]
    transfer = "" if sample.transfer is None else sample.transfer.value
    return f"{int(sample.ok)}|{sample.latency_ms}|{epoch_ms(sample.at)}|{kind}|{transfer}"


def _decode(provider: ProviderId, raw: Any) -> HealthSample:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    ok, latency, at_ms, *rest = text.split("|")
    at = datetime.fromtimestamp(int(at_ms) / 1000, UTC)
    kind = _KINDS_BY_CODE.get(rest[0]) if rest else None
    transfer = _TRANSFERS_BY_CODE.get(rest[1]) if len(rest) > 1 else None
    return HealthSample(provider, ok == "1", int(latency), at, kind, transfer)


def _at(sample: HealthSample) -> datetime:
    return sample.at


class RedisHealthStore:
    """ProviderHealthStore on Redis lists, evaluated by the core's HealthTracker."""

    def __init__(
        self,
        redis: Redis,
        *,
        tracker_factory: Callable[[], HealthTracker] = HealthTracker,
        history: int | None = None,
        max_staleness_s: float = MAX_STALENESS_S,
        prefix: str = "synccash:health:",
        flush_interval_s: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
        cache_ttl_s: float | None = None,
    ) -> None:
        """`cache_ttl_s` is the former name of `max_staleness_s` (it wins when given)."""
        self._redis = redis
        self._factory = tracker_factory
        # Keep more than one window so the circuit breaker's recent history replays faithfully.
        self._history = history or 2 * tracker_factory().window
        self.max_staleness_s = max_staleness_s if cache_ttl_s is None else cache_ttl_s
        self._prefix = prefix
        self._keys = {provider: f"{prefix}{provider.value}" for provider in ProviderId}
        self._providers = list(ProviderId)
        self._all_keys = [self._keys[p] for p in self._providers]
        self.flush_interval_s = flush_interval_s
        self._monotonic = monotonic
        self._waiting: dict[ProviderId, list[HealthSample]] = {}
        self._oldest_waiting = 0.0  # monotonic time the first waiting sample came in
        # The shared lists as last read, the tracker built from them (plus this process's
        # samples since), when that read was sent, and the entries already decoded.
        self._lists: list[str] | None = None
        self._tracker = tracker_factory()
        self._read_at: float | None = None
        self._decoded: dict[ProviderId, dict[str, HealthSample]] = {}
        # The last snapshot, served until a refresh or an own sample that must show at once.
        self._snapshot: dict[ProviderId, ProviderHealth] | None = None
        # Serialises writes of this process's samples with refreshes: while a refresh is in
        # flight no flush can slip a sample into Redis behind its reads.
        self._lock = anyio.Lock()

    def _key(self, provider: ProviderId) -> str:
        return self._keys[provider]

    async def record(self, sample: HealthSample) -> None:
        """Keep one outcome for the next flush (sent now if the oldest waited long enough).

        It counts in this process's snapshots at once.
        """
        self._tracker.record(sample)
        shown = self._snapshot
        if shown is not None and (
            not sample.ok or shown[sample.provider].circuit is not CircuitState.CLOSED
        ):
            self._snapshot = None  # a failure, or news for a tripped breaker: show it now
        now = self._monotonic()
        if not self._waiting:
            self._oldest_waiting = now
        self._waiting.setdefault(sample.provider, []).append(sample)
        if now - self._oldest_waiting >= self.flush_interval_s:
            await self.flush()

    async def flush(self) -> None:
        """Write every waiting sample to its provider's capped list, in one round trip."""
        if not self._waiting:
            return
        async with self._lock:
            if self._waiting:
                await self._sync(read=False)

    async def _sync(self, *, read: bool) -> list[Any]:
        """Send the waiting samples (they leave this process) and, if `read`, read the lists."""
        waiting, self._waiting = self._waiting, {}
        args: list[Any] = [self._history, "1" if read else "0"]
        for provider in self._providers:
            samples = waiting.get(provider)
            args.append(",".join([_encode(s) for s in samples]) if samples else "")
        keys = self._all_keys
        try:
            answer: Any = await self._redis.evalsha(_SYNC_SHA, len(keys), *keys, *args)
        except NoScriptError:  # first use on this server (or after SCRIPT FLUSH): nothing ran
            await self._redis.script_load(_SYNC)
            answer = await self._redis.evalsha(_SYNC_SHA, len(keys), *keys, *args)
        return list(answer)

    def _stale(self) -> bool:
        read_at = self._read_at
        return read_at is None or self._monotonic() - read_at >= self.max_staleness_s

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """Health of every provider at `now`: the shared samples (at most `max_staleness_s`
        old) and every sample this process recorded."""
        if self._stale():
            await self._refresh()
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = self._tracker.snapshot(now)
        return snapshot

    async def _refresh(self) -> None:
        """Read the shared lists (writing the waiting samples first) and rebuild the tracker."""
        async with self._lock:
            if not self._stale():
                return  # another task refreshed while this one waited
            started = self._monotonic()
            wrote = bool(self._waiting)
            joined = await self._sync(read=True)
            lists = [j.decode() if isinstance(j, bytes) else str(j) for j in joined]
            # Samples recorded during the round trip wait in `_waiting` (no flush could run):
            # they are in the current tracker but not in `lists`.
            if wrote or lists != self._lists:
                self._tracker = self._rebuild(self._providers, lists)
                self._lists = lists
            self._read_at = started
            self._snapshot = None

    def _rebuild(self, providers: list[ProviderId], lists: list[str]) -> HealthTracker:
        tracker = self._factory()
        for provider, joined in zip(providers, lists, strict=True):
            raws = joined.split(",") if joined else []
            known = self._decoded.get(provider, {})
            decoded: dict[str, HealthSample] = {}
            samples = []
            for raw in raws:
                sample = known.get(raw) or decoded.get(raw)
                if sample is None:
                    sample = _decode(provider, raw)
                decoded[raw] = sample
                samples.append(sample)
            self._decoded[provider] = decoded
            samples.sort(key=_at)  # each provider's window is independent of the others'
            tracker.record_many(samples)
        for samples in self._waiting.values():
            tracker.record_many(samples)
        return tracker


__all__ = ["MAX_STALENESS_S", "RedisHealthStore"]
