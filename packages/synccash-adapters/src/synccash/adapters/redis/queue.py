"""The task queue on Redis Streams with a consumer group.

- `enqueue` XADDs to the stream, or ZADDs to a sorted set of delayed tasks (score = due
  time in epoch ms; member = the task and its due time, so identical delayed tasks collapse).
- `consume` runs one Lua script that (atomically, so each task moves once) acknowledges
  the acks waiting in this process, promotes due delayed tasks into the stream,
  XAUTOCLAIMs deliveries idle longer than the visibility timeout (crashed or stuck
  consumers) and reads new entries without blocking: one round trip under load. A claimed
  entry delivered more than `max_deliveries` times goes to the dead-letter stream instead.
  Only when the script found nothing does a blocking XREADGROUP follow (scripts cannot
  block), waiting no longer than the next delayed task's due time.
- `ack` does not send at once: acks finishing at about the same time are coalesced.
  Each waits up to `ack_linger_ms` (50 ms) for the next `consume` to carry it (the usual
  case: a finished handler frees a slot, so the consumer loop reads again at once, or
  soon after the read already in flight); otherwise it sends every waiting ack in one
  XACK + XDEL pipeline itself. 50 ms is far below any visibility timeout, so a late ack
  never causes a redelivery; it only keeps the handler's task alive that much longer.
  `ack` returns when its ack is in Redis, so a worker that waits for its handlers on
  shutdown has flushed them all.
  A lost ack (crash in between) only means a redelivery after the visibility timeout,
  which the idempotent handlers absorb.
- Delayed enqueues (the next look at a payment) and `withdraw`s ride the same way, in
  call order, with the acks: a worker's task typically ends with one of them and its ack,
  so under load they cost no round trip of their own. They return once applied, like
  `ack`. Immediate enqueues (XADD) are sent at once; a lone one (an initiate's, a
  callback's) as one XADD on the pipelined `LeanRedis` connection passed in as `lean` (the
  consume script goes over it too); without one, through redis-py.

Redis is never the record: a lost stream is rebuilt by the scheduler's overdue sweep from
the database. The script recreates the consumer group when Redis was flushed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any, cast

import anyio
import structlog
from attrs import define, field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from synccash.adapters.clock import SystemClock
from synccash.adapters.coordination import (
    DeadLetter,
    DeadLetterListener,
    Delivery,
    QueueStats,
    epoch_ms,
    notify,
    task_fields,
    task_from_fields,
)
from synccash.adapters.engines.resp import LeanRedis, run_script
from synccash.core.ports import Clock, Task

_log = structlog.get_logger(__name__)

# KEYS: stream, delayed zset, dead stream
# ARGV: group, consumer, now_ms, min_idle_ms, max_deliveries, count, promote_batch, dead_maxlen,
#       XAUTOCLAIM start cursor (it walks the pending list across calls, back to 0-0 at the end),
#       the number of acks, the ids of deliveries to acknowledge first, then delayed-set
#       changes to apply in order, as triples: 'a', due ms, member (ZADD) or 'r', '', member
# Returns: reclaimed {id, fields, deliveries}..., dead-lettered {id, fields, deliveries}...,
#          next delayed due time (or false), XAUTOCLAIM's next cursor, new {id, fields}...
_PREPARE = """
local stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, consumer = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local max_deliveries = tonumber(ARGV[5])
local count = tonumber(ARGV[6])
redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
local n_acks = tonumber(ARGV[10])
if n_acks > 0 then
  local acks = {unpack(ARGV, 11, 10 + n_acks)}
  redis.call('XACK', stream, group, unpack(acks))
  redis.call('XDEL', stream, unpack(acks))
end
for i = 11 + n_acks, #ARGV, 3 do
  if ARGV[i] == 'a' then
    redis.call('ZADD', delayed, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('ZREM', delayed, ARGV[i + 2])
  end
end
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
for _, member in ipairs(due) do
  local t = cjson.decode(member)
  redis.call('XADD', stream, '*', 'kind', t.k, 'payment_id', t.p, 'hint', t.h, 'enq', t.t)
  redis.call('ZREM', delayed, member)
end
local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[4], ARGV[9], 'COUNT', count)
local live, gone = {}, {}
for _, entry in ipairs(claimed[2]) do
  local id, fields = entry[1], entry[2]
  if fields then
    local pending = redis.call('XPENDING', stream, group, id, id, 1)
    local n = 1
    if pending[1] then n = tonumber(pending[1][4]) end
    if n > max_deliveries then
      local args = {'XADD', dead, 'MAXLEN', '~', ARGV[8], '*'}
      for _, f in ipairs(fields) do table.insert(args, f) end
      table.insert(args, 'deliveries'); table.insert(args, n - 1)
      table.insert(args, 'source_id'); table.insert(args, id)
      redis.call(unpack(args))
      redis.call('XACK', stream, group, id)
      redis.call('XDEL', stream, id)
      table.insert(gone, {id, fields, n - 1})
    else
      table.insert(live, {id, fields, n})
    end
  end
end
local fresh = {}
if #live < count then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - #live,
                          'STREAMS', stream, '>')
  if read then fresh = read[1][2] end
end
local next_due = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
return {live, gone, next_due[2] or false, claimed[1], fresh}
"""


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_str(flat[i]): _str(flat[i + 1]) for i in range(0, len(flat), 2)}


@define
class _AckBatch:
    """Acks and delayed-set changes waiting to be sent together; `done` is set once sent
    (`ok`) or failed."""

    ids: list[str] = field(factory=list)
    ops: list[str] = field(factory=list)  # flat triples: 'a'|'r', due ms or '', member
    done: anyio.Event = field(factory=anyio.Event)
    ok: bool = False


class RedisTaskQueue:
    """TaskQueue + consumer side on Redis Streams (see `ConsumableTaskQueue`)."""

    def __init__(
        self,
        redis: Redis,
        *,
        lean: LeanRedis | None = None,
        clock: Clock | None = None,
        stream: str = "synccash:tasks",
        group: str = "synccash-workers",
        visibility_timeout_s: float = 30.0,
        max_deliveries: int = 5,
        promote_batch: int = 500,
        dead_maxlen: int = 100_000,
        ack_linger_ms: float = 50.0,
    ) -> None:
        self.redis = redis
        self._lean = lean  # the pipelined connection for the hot commands, if any
        self._clock: Clock = clock or SystemClock()
        self.stream = stream
        self.group = group
        self.delayed_key = f"{stream}:delayed"
        self.dead_key = f"{stream}:dead"
        self._visibility_ms = int(visibility_timeout_s * 1000)
        self._max_deliveries = max_deliveries
        self._promote_batch = promote_batch
        self._dead_maxlen = dead_maxlen
        self._prepare = redis.register_script(_PREPARE)
        self._listeners: list[DeadLetterListener] = []
        self._claim_cursor = "0-0"
        self._ack_linger_s = ack_linger_ms / 1000
        self._acks = _AckBatch()

    async def ensure_group(self) -> None:
        """Create the stream and consumer group if missing (idempotent)."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue(self, task: Task, at: datetime | None = None) -> None:
        """Deliver `task` now (at=None or past) or not before `at`."""
        await self.enqueue_many([(task, at)])

    async def enqueue_many(self, items: Sequence[tuple[Task, datetime | None]]) -> None:
        """Enqueue several tasks in one pipelined round trip (e.g. the overdue sweep)."""
        if not items:
            return
        now = epoch_ms(self._clock.now())
        dues = [now if at is None else epoch_ms(at) for _, at in items]
        if all(due > now for due in dues):
            # only delayed ones (a worker's next look): they ride with the acks
            ops: list[str] = []
            for (task, _), due in zip(items, dues, strict=True):
                ops += ("a", str(due), _delayed_member(task, due))
            await self._carry([], ops)
            return
        lean = self._lean if len(items) == 1 else None
        if lean is not None:
            # one task due now (an initiate's, a callback's): one XADD on the lean pipelined
            # connection, ~0.1 ms of CPU less than a one-command redis-py pipeline
            single = {**task_fields(items[0][0]), "enq": str(now)}
            await lean.execute("XADD", self.stream, "*", *chain.from_iterable(single.items()))
            return
        pipe = self.redis.pipeline(transaction=False)
        for (task, _), due in zip(items, dues, strict=True):
            if due <= now:
                fields: dict[Any, Any] = {**task_fields(task), "enq": str(now)}
                pipe.xadd(self.stream, fields)
            else:
                pipe.zadd(self.delayed_key, {_delayed_member(task, due): due})
        await pipe.execute()

    async def withdraw(self, task: Task, at: datetime) -> None:
        """Drop `task` if it still waits in the delayed set for `at` (a ZREM, carried)."""
        await self._carry([], ["r", "", _delayed_member(task, epoch_ms(at))])

    async def consume(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[Delivery]:
        """Up to `count` deliveries: reclaimed stuck ones first, then new ones.

        Carries this process's waiting acks to Redis in the same round trip.
        """
        now = epoch_ms(self._clock.now())
        acks, self._acks = self._acks, _AckBatch()
        try:
            raw = await run_script(  # on the lean pipelined connection (never blocks)
                self.redis,
                self._lean,
                self._prepare,
                [self.stream, self.delayed_key, self.dead_key],
                [
                    self.group,
                    consumer,
                    now,
                    self._visibility_ms,
                    self._max_deliveries,
                    count,
                    self._promote_batch,
                    self._dead_maxlen,
                    self._claim_cursor,
                    len(acks.ids),
                    *acks.ids,
                    *acks.ops,
                ],
            )
        except BaseException:
            acks.done.set()  # not ok: each waiting ack sends itself again (XACK is idempotent)
            raise
        acks.ok = True
        acks.done.set()
        live, gone, next_due, cursor, fresh = cast("list[Any]", raw)
        self._claim_cursor = _str(cursor)
        out = [self._delivery(entry[0], entry[1], int(entry[2]), now) for entry in live]
        out.extend(self._delivery(entry[0], entry[1], 1, now) for entry in fresh)
        for entry in gone:
            self._dead_lettered(entry[0], _pairs(entry[1]), int(entry[2]))
        if out or block_ms <= 0:
            return out
        block = block_ms
        if next_due:
            block = min(block, int(float(_str(next_due))) - now)
        if block <= 0:
            return out  # a delayed task is due: the next call promotes it
        try:
            read: Any = await self.redis.xreadgroup(
                self.group, consumer, {self.stream: ">"}, count=count, block=block
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis was flushed between the script and the read
            return out
        for _stream, entries in read or []:
            out.extend(self._delivery(msg_id, fields, 1, now) for msg_id, fields in entries)
        return out

    def _delivery(self, msg_id: Any, fields: Any, deliveries: int, now: int) -> Delivery:
        values = fields if isinstance(fields, dict) else _pairs(fields)
        decoded = {_str(k): _str(v) for k, v in values.items()}
        enq = int(decoded.get("enq") or now)
        return Delivery(_str(msg_id), task_from_fields(decoded), deliveries, enq)

    def _dead_lettered(self, msg_id: Any, fields: dict[str, str], deliveries: int) -> None:
        dead = DeadLetter(_str(msg_id), task_from_fields(fields), deliveries)
        _log.warning(
            "task_dead_lettered",
            kind=dead.task.kind.value,
            payment_id=dead.task.payment_id,
            deliveries=deliveries,
            stream=self.dead_key,
        )
        notify(self._listeners, dead)

    async def ack(self, delivery: Delivery) -> None:
        """XACK and XDEL the entry, together with the other acks of this moment (see above)."""
        await self._carry([delivery.id], [])

    async def _carry(self, ids: list[str], ops: list[str]) -> None:
        """Add acks and delayed-set changes to the waiting batch; return once applied."""
        batch = self._acks
        batch.ids += ids
        batch.ops += ops
        with anyio.move_on_after(self._ack_linger_s):
            await batch.done.wait()
        if not batch.done.is_set() and batch is self._acks:
            self._acks = _AckBatch()  # no consume carried it: send the whole batch now
            try:
                await self._send(batch.ids, batch.ops)
                batch.ok = True
            finally:
                batch.done.set()
            return
        await batch.done.wait()  # carried by a consume or sent by another waiter already
        if not batch.ok:
            await self._send(ids, ops)  # each again on its own (all of them are idempotent)

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge several deliveries in one round trip."""
        await self._send([d.id for d in deliveries], [])

    async def _send(self, ids: Sequence[str], ops: Sequence[str]) -> None:
        if not ids and not ops:
            return
        pipe = self.redis.pipeline(transaction=False)
        if ids:
            pipe.xack(self.stream, self.group, *ids)
            pipe.xdel(self.stream, *ids)
        for i in range(0, len(ops), 3):
            if ops[i] == "a":
                pipe.zadd(self.delayed_key, {ops[i + 2]: int(ops[i + 1])})
            else:
                pipe.zrem(self.delayed_key, ops[i + 2])
        await pipe.execute()

    async def stats(self) -> QueueStats:
        """Depth from XINFO GROUPS (lag, pending), ZCARD and XLEN in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.zcard(self.delayed_key)
        pipe.xlen(self.dead_key)
        length, delayed, dead = await pipe.execute()
        ready, in_flight = int(length), 0
        try:
            groups = await self.redis.xinfo_groups(self.stream)
        except ResponseError:  # no stream yet
            groups = []
        for info in groups:
            item = {_str(k): v for k, v in info.items()}
            if _str(item.get("name", "")) == self.group:
                in_flight = int(item.get("pending") or 0)
                lag = item.get("lag")
                ready = int(lag) if lag is not None else max(0, int(length) - in_flight)
        return QueueStats(ready=ready, in_flight=in_flight, delayed=int(delayed), dead=int(dead))

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest dead letters (for inspection and manual replay)."""
        entries: Any = await self.redis.xrange(self.dead_key, count=count)
        out = []
        for msg_id, fields in entries:
            decoded = {_str(k): _str(v) for k, v in fields.items()}
            out.append(
                DeadLetter(_str(msg_id), task_from_fields(decoded), int(decoded["deliveries"]))
            )
        return out

    async def requeue_dead_letters(self, limit: int = 100) -> int:
        """Put up to `limit` dead letters back on the stream as fresh tasks; how many.

        Not atomic with a concurrent requeue: at worst a task runs twice, which the idempotent
        handlers absorb.
        """
        dead = await self.dead_letters(limit)
        if not dead:
            return 0
        await self.enqueue_many([(d.task, None) for d in dead])
        await self.redis.xdel(self.dead_key, *[d.id for d in dead])
        return len(dead)

    async def forget_consumer(self, consumer: str) -> bool:
        """XGROUP DELCONSUMER a stopped consumer, only if its pending list is empty.

        Worker names are per process, so without this the group would collect one dead
        consumer per restart. A consumer with pending entries is kept: deleting it would drop
        those entries, and XAUTOCLAIM will hand them to a live consumer instead.
        """
        try:
            pending: Any = await self.redis.xpending_range(
                self.stream, self.group, min="-", max="+", count=1, consumername=consumer
            )
        except ResponseError:  # no stream or group (e.g. after a flush): nothing to forget
            return False
        if pending:
            return False
        await self.redis.xgroup_delconsumer(self.stream, self.group, consumer)
        return True

    def on_dead_letter(self, listener: DeadLetterListener) -> None:
        """Call `listener` for every task moved to the dead letters."""
        self._listeners.append(listener)


__all__ = ["RedisTaskQueue"]


def _delayed_member(task: Task, due: int) -> str:
    """The delayed set's member: the task and its due time (identical ones collapse)."""
    return json.dumps(
        {"k": task.kind.value, "p": task.payment_id, "h": task.hint or "", "t": str(due)},
        separators=(",", ":"),
        sort_keys=True,
    )
