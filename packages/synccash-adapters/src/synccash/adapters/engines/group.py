"""Engine: group commit and group read, concurrent lone writes and reads share one round
trip (and one commit) on PostgreSQL.

Replaces: one pooled connection, round trip and commit per unit of work.
Why: bench-db client CPU per initiate 225 -> 115 us, repository vs pgbench ratio 0.46 -> 0.61
(commit 7a1dd2f); the worker's payment read was 8% of the worker (237986d).
Switch off: ENGINE_GROUP_COMMIT=off (each unit of work sends its own statements; the
one-statement fast paths of `engines.pgfast` stay).

A new payment is one statement (payment, attempts, events and outbox rows in one INSERT
... WITH), and so is a saved change (the optimistic UPDATE with its rows, in its strict
form that fails on a stale version); a unit of work whose only write is one of them sends
it alone, without BEGIN/COMMIT. Under load many such statements from one
process are in flight at once; each costs a round trip, a socket write and a commit (a WAL
flush) of its own. The GroupCommitter queues them and sends whatever has queued up as one
`executemany` (asyncpg pipelines the executions and runs them in one transaction, atomically)
on a small pool of its own. Batching is natural: a statement that finds an idle sender goes
out at once (no added latency at low load); statements arriving while every sender is busy
wait for the next batch.

Each caller's await returns only after its statement's batch committed, so "committed"
means the same as before. If a batch fails on one statement's own error (a duplicate
idempotency key, a stale save), nothing of it was written: every statement of the batch is
then sent again on its own, so only that statement's caller sees the error. Any other failure (connection lost,
server restart) goes to every caller of the batch, as it would have to each alone, as
`DatabaseUnavailableError` (503 in the API, a retry in the worker). A connection that failed
that way is terminated, never reused; an idle one the server closed is dropped before use;
while connecting keeps failing, the next try waits (0.1 s doubling to 2 s) and callers fail
at once meanwhile, so a database that is down costs a connect per backoff, not per batch.

The senders use their own asyncpg connections, not the engine's pool: callers hold pooled
connections while they wait, and a sender waiting for the same pool could deadlock.

GroupReader does the same for reads of one payment by id (the worker's read at the start of
every task): concurrent reads go out as one `SELECT ... WHERE id = ANY($1)`.
"""

from __future__ import annotations

import abc
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Final, cast

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.failures import FailureLog
from synccash.adapters.sql._healing import DatabaseUnavailableError, connection_lost

#: How many statements one batch takes at most.
MAX_BATCH: Final = 128
#: Concurrent senders (and connections).
SENDERS: Final = 2
#: How long opening a sender's connection may take.
CONNECT_TIMEOUT_S: Final = 5.0

#: A queued item: its kind (the statement, or what to read), its payload, its caller's future.
_Item = tuple[Any, Any, "asyncio.Future[Any]"]


class _Batcher(abc.ABC):
    """The shared part: a queue of (kind, payload, caller's future) items, up to `senders`
    tasks each taking whatever queued up (at most `max_batch`) to a connection of their own,
    items grouped by kind; a sender that finds the queue empty ends."""

    _what = "batcher"
    _component = "group"

    def __init__(
        self,
        *,
        senders: int,
        max_batch: int,
        connect: Callable[[], Any],
        failures: FailureLog | None = None,
    ) -> None:
        if senders < 1 or max_batch < 1:
            raise ValueError(f"a {self._what} needs at least one sender and a batch of one")
        self._senders = senders
        self._max_batch = max_batch
        self._connect = connect
        self._queue: list[_Item] = []
        self._running = 0
        self._idle: list[asyncpg.Connection] = []
        self._closed = False
        self._reconnect = Backoff()
        self._failures = failures or FailureLog()
        self._drained = asyncio.Event()
        self._drained.set()

    async def _submit(self, kind: Any, payload: Any) -> Any:
        """Queue one item and wait for its caller's result."""
        if self._closed:
            raise RuntimeError(f"the {self._what} is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((kind, payload, future))
        if self._running < self._senders:
            self._running += 1
            self._drained.clear()
            task = asyncio.get_running_loop().create_task(self._send_while_queued())
            task.add_done_callback(_retrieve)
        return await future

    async def aclose(self) -> None:
        """Close the senders' connections (what is queued still goes out first)."""
        self._closed = True
        await self._drained.wait()
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def _send_while_queued(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._send(batch)
        finally:
            self._running -= 1
            if not self._running:
                self._drained.set()

    async def _connection(self) -> asyncpg.Connection:
        """An idle connection the server has not closed, else a new one (with backoff:
        while connecting keeps failing, callers fail at once until the next try is due)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            conn.terminate()  # closed by the server (terminated backend, restart)
        wait = self._reconnect.remaining(time.monotonic())
        if wait > 0:
            raise DatabaseUnavailableError(f"database unavailable: next connect in {wait:.1f} s")
        try:
            conn = await self._connect()
        except Exception as exc:
            self._reconnect.failed(time.monotonic())
            self._failures.failed(self._component, exc)
            raise _as_unavailable(exc) from exc
        self._reconnect.succeeded()
        return cast("asyncpg.Connection", conn)

    async def _send(self, batch: list[_Item]) -> None:
        try:
            conn = await self._connection()
        except DatabaseUnavailableError as exc:
            _fail(batch, exc)
            return
        healthy = True
        try:
            by_kind: dict[Any, list[_Item]] = {}
            for item in batch:
                by_kind.setdefault(item[0], []).append(item)
            for kind, items in by_kind.items():
                healthy = await self._send_same(conn, kind, items) and healthy
        finally:
            if healthy and not self._closed:
                self._idle.append(conn)
            else:
                conn.terminate()
        if healthy:
            self._failures.succeeded(self._component)

    def _lost(self, items: list[_Item], exc: Exception) -> None:
        """The connection failed under these items: tell their callers (as 'database
        unavailable', whatever asyncpg raised) and the failure log."""
        self._failures.failed(self._component, exc)
        _fail(items, _as_unavailable(exc))

    @abc.abstractmethod
    async def _send_same(self, conn: asyncpg.Connection, kind: Any, items: list[_Item]) -> bool:
        """Send the items of one kind and settle their futures; False if the connection is
        no longer usable."""


class GroupCommitter(_Batcher):
    """Sends concurrent lone write statements in batches, each batch one transaction."""

    _what = "group committer"
    _component = "group_commit"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        senders: int = SENDERS,
        max_batch: int = MAX_BATCH,
        connect: Callable[[], Any] | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        super().__init__(
            senders=senders,
            max_batch=max_batch,
            connect=connect or (lambda: connect_like(engine, "synccash-group-commit")),
            failures=failures,
        )
        self._engine = engine
        self.batches = 0  # batches sent (for tests and metrics)
        self.statements = 0  # statements sent in them

    async def execute(self, sql: str, args: tuple[Any, ...]) -> None:
        """Run `sql` with `args`; returns once it is committed (raises what it raised)."""
        await self._submit(sql, args)

    async def _send_same(self, conn: asyncpg.Connection, sql: str, items: list[_Item]) -> bool:
        """One statement shape; False if the connection is no longer usable."""
        self.batches += 1
        self.statements += len(items)
        try:
            if len(items) == 1:
                await conn.execute(sql, *items[0][1])
            else:
                await conn.executemany(sql, [args for _, args, _ in items])
        except Exception as exc:  # every failure goes to the batch's callers
            if _unusable(exc) or conn.is_closed():
                self._lost(items, exc)
                return False
            if len(items) == 1:
                _fail(items, exc)
                return True
            # one statement's own error (a duplicate key, a stale save): the batch was one
            # transaction, so nothing of it was written; each goes again on its own
            return await self._one_by_one(conn, sql, items)
        except BaseException as exc:  # cancelled: the callers must not wait forever
            _fail(items, exc)
            raise
        for _, _, future in items:
            if not future.done():
                future.set_result(None)
        return True

    async def _one_by_one(self, conn: asyncpg.Connection, sql: str, items: list[_Item]) -> bool:
        for _, args, future in items:
            try:
                await conn.execute(sql, *args)
            except asyncpg.PostgresError as exc:
                if not future.done():
                    future.set_exception(exc)
            except BaseException as exc:
                _fail([i for i in items if not i[2].done()], exc)
                return False
            else:
                if not future.done():
                    future.set_result(None)
        return True


class GroupReader(_Batcher):
    """Concurrent one-row reads share one round trip (PostgreSQL).

    The worker reads a payment at the start of every task, and its fraud signals before
    routing it, 32 tasks at a time per process. Each read alone costs a pooled-connection
    checkout and a round trip (a socket write that wakes a backend, the most expensive part
    of a read on a busy box). Here reads that arrive while a sender is busy go out together,
    on a connection of the reader's own; a read that finds an idle sender goes at once:
    - `fetch(key)`: one `SELECT ... WHERE key = ANY($1)` for every key waiting;
    - `fetch_each(query, args)`: a one-row SELECT for many parameter sets at once, as
      compiled by `compile_lateral` (the parameter sets unnested, the SELECT run LATERAL
      for each).

    Each batch is one autocommit statement per kind, as each unbatched read was: it sees
    every write committed before it was sent (writes are optimistic on the version, so no
    caller relies on a snapshot shared with other reads).
    """

    _what = "group reader"
    _component = "group_read"

    def __init__(
        self,
        engine: AsyncEngine,
        sql: str,
        key: str,
        *,
        senders: int = SENDERS,
        max_batch: int = MAX_BATCH,
        connect: Callable[[], Any] | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        super().__init__(
            senders=senders,
            max_batch=max_batch,
            connect=connect or (lambda: _connect_decoding_json(engine)),
            failures=failures,
        )
        self._sql = sql  # one array parameter: the keys
        self._key = key  # the column the rows are matched back to their callers by
        self.batches = 0  # round trips (for tests and metrics)
        self.reads = 0  # reads answered by them

    async def fetch(self, key: Any) -> Any:
        """The row whose key column equals `key` (an asyncpg Record), or None."""
        return await self._submit(None, key)

    async def fetch_each(self, query: str, args: tuple[Any, ...]) -> Any:
        """The one row `query` (from `compile_lateral`) gives for these parameters."""
        return await self._submit(query, args)

    async def _send_same(
        self, conn: asyncpg.Connection, query: str | None, reads: list[_Read]
    ) -> bool:
        """One kind of read; False if the connection is no longer usable."""
        futures = [future for _, _, future in reads]
        self.batches += 1
        self.reads += len(reads)
        try:
            if query is None:
                keys = list(dict.fromkeys(key for _, key, _ in reads))  # each key once
                rows = await conn.fetch(self._sql, keys)
                found = {row[self._key]: row for row in rows}
                results = [found.get(key) for _, key, _ in reads]
            else:
                columns = [
                    list(column) for column in zip(*(args for _, args, _ in reads), strict=True)
                ]
                rows = await conn.fetch(query, *columns)
                by_position = {row["batch_ord"]: row for row in rows}
                results = [by_position.get(i) for i in range(1, len(reads) + 1)]
        except Exception as exc:
            if _unusable(exc) or conn.is_closed():
                self._lost(reads, exc)
                return False
            _fail_all(futures, exc)
            return True
        except BaseException as exc:  # cancelled: the callers must not wait forever
            _fail_all(futures, exc)
            raise
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)
        return True


#: A waiting read: its kind (None: by key; else a compile_lateral query), key or args, caller.
_Read = _Item


async def connect_like(engine: AsyncEngine, application_name: str) -> asyncpg.Connection:
    """An asyncpg connection to where `engine` connects (host, port or a Unix-socket
    directory given as `?host=`, user, password, database, ssl), with its session settings.

    These connections only run the group statements (new payments, saves, loads by id,
    the LATERAL fraud signals and callback lookups), each prepared once: their plans are
    index lookups whatever the values, so the server keeps one generic plan per statement
    instead of planning custom ones again (`plan_cache_mode`). bench-lifecycle, A/B twice:
    PostgreSQL 1.56 / 1.34 -> 1.29 / 1.24 ms of CPU per lifecycle, 297 / 304 -> 344 / 339
    lifecycles/s.
    """
    _, params = engine.dialect.create_connect_args(engine.url)
    accepted = {k: v for k, v in params.items() if k in _CONNECT_PARAMS}
    accepted.setdefault("timeout", CONNECT_TIMEOUT_S)
    conn: asyncpg.Connection = await asyncpg.connect(
        **accepted,
        server_settings={
            "application_name": application_name,
            "jit": "off",
            "plan_cache_mode": "force_generic_plan",
        },
    )
    return conn


async def _connect_decoding_json(engine: AsyncEngine) -> asyncpg.Connection:
    """A reader's connection: json and jsonb values decoded, as the engine's connections do."""
    conn = await connect_like(engine, "synccash-group-read")
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=str, decoder=json.loads, schema="pg_catalog")
    return conn


#: What SQLAlchemy's asyncpg dialect may pass that asyncpg.connect itself accepts (the rest,
#: like prepared_statement_cache_size, are the dialect's own options).
_CONNECT_PARAMS: Final = frozenset(
    {"host", "port", "user", "password", "database", "ssl", "direct_tls", "timeout"}
)


def _unusable(exc: Exception) -> bool:
    """The connection cannot be used again: it was lost, or failed with something that is
    not one statement's own PostgreSQL error (its protocol state is unknown)."""
    return not isinstance(exc, asyncpg.PostgresError) or connection_lost(exc)


def _as_unavailable(exc: Exception) -> DatabaseUnavailableError:
    """Any failure to open or keep a connection (refused, timed out, shutting down, lost,
    bad password, asyncpg's protocol out of step) as 'database unavailable'."""
    wrapped = DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


class Backoff:
    """Exponential backoff between reconnects: 0.1 s doubling to at most 2 s, reset by a
    success (the first try after a loss is immediate, so a lone blip costs no wait)."""

    def __init__(self, *, first_s: float = 0.1, max_s: float = 2.0) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._delay_s = 0.0
        self._next_at = 0.0

    def remaining(self, now: float) -> float:
        """Seconds until the next try is due (0: try now)."""
        return max(0.0, self._next_at - now)

    def failed(self, now: float) -> None:
        """A try failed: wait longer before the next."""
        self._delay_s = min(self._max_s, self._delay_s * 2 or self._first_s)
        self._next_at = now + self._delay_s

    def succeeded(self) -> None:
        """A try succeeded: the next loss is tried at once again."""
        self._delay_s = 0.0
        self._next_at = 0.0


def _fail_all(futures: list[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


def _fail(items: list[_Item], exc: BaseException) -> None:
    for _, _, future in items:
        if not future.done():
            future.set_exception(exc)


def _retrieve(task: asyncio.Task[None]) -> None:
    """Sender tasks report to their callers' futures; never leave their own error unread."""
    if not task.cancelled():
        task.exception()
