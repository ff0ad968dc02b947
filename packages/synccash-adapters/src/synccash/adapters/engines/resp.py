"""Engine: a lean pipelined Redis connection for the hot commands (the API's admission
script and lock release, the worker's consume script, a lone XADD).

Replaces: redis-py's pooled connections for those commands (blocking reads, TLS and unix
sockets stay on redis-py).
Why: ~80 us of CPU per command through redis-py against ~15 us here; -0.2 ms of API CPU per
initiate (commit f481029).
Switch off: ENGINE_REDIS=redis-py. The composition root builds ONE `LeanRedis` per process
(`LeanRedis.from_client`) and passes it to the queue, the rate limiter and the locks.

redis-py costs ~65 us of CPU per command on top of the round trip itself (~80 us against
~15 us for the bare socket exchange, measured with uvloop on the 2-core box): a pooled
connection checkout, retry and timeout wrappers, deprecation-argument checks and its
reply parser. An initiate sends two such commands from the API's own adapters.

`LeanRedis` keeps ONE connection per event loop and pipelines on it: every caller writes
its command and waits for its reply in order (Redis answers a connection's commands in
the order sent), and the commands issued in one event-loop iteration go out in one socket
write. It speaks RESP2 for the few reply types these commands return. It is used only
for plain TCP connections built by `Redis.from_url` (host, port, db, username/password);
anything else (TLS, unix socket) keeps using redis-py (`LeanRedis.from_client` returns None).

Failures surface as redis-py's own exceptions (`ConnectionError`, `TimeoutError`,
`ResponseError`, `NoScriptError`), so callers and the API's error mapping (503 on a lost
Redis) see what they saw before. A lost connection fails every command waiting on it at
once; the next command reconnects. A half-open connection (Redis crashed or a peer vanished
without a FIN) is found two ways: every reply must arrive within `read_timeout_s` (default
5 s; the commands sent here never block on the server), else the connection is aborted and
every waiter fails with TimeoutError; and TCP keepalive probes an idle connection (after
10 s, every 5 s, 3 probes). A command that was never written (its connection died before the
write) is sent once more on a new connection; one that was written is not (its effect is
unknown), its caller sees the error.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.connection import Connection as PlainConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_CRLF: Final = b"\r\n"
#: How long a reply may take before the connection counts as dead.
READ_TIMEOUT_S: Final = 5.0
#: TCP keepalive: first probe after this many idle seconds, then every interval, this many.
KEEPALIVE_IDLE_S: Final = 10
KEEPALIVE_INTERVAL_S: Final = 5
KEEPALIVE_PROBES: Final = 3


class _NotSent(RedisConnectionError):
    """The command never reached the socket (safe to send again on a new connection)."""


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


def encode(args: tuple[Any, ...]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int | float) and not isinstance(arg, bool):  # as redis-py: no bools
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send a {type(arg).__name__} to Redis")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _error(message: str) -> ResponseError:
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


def parse(buf: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 reply starting at `pos`: (value, position after it); raises _Incomplete.

    Errors are returned (not raised) as ResponseError instances, so that an error nested in
    an array does not hide the rest of the reply.
    """
    end = buf.find(_CRLF, pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1 : end])
    pos = end + 2
    if kind == 0x2B:  # + simple string
        return line, pos
    if kind == 0x3A:  # : integer
        return int(line), pos
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise _Incomplete
        return bytes(buf[pos : pos + size]), pos + size + 2
    if kind == 0x2A:  # * array
        count = int(line)
        if count < 0:
            return None, pos
        items = []
        for _ in range(count):
            item, pos = parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == 0x2D:  # - error
        return _error(line.decode(errors="replace")), pos
    raise RedisConnectionError(f"unexpected byte {kind!r} in a Redis reply")


class _Pipe(asyncio.Protocol):
    """One connection: commands written in order, replies matched to their waiters in order."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, read_timeout_s: float = READ_TIMEOUT_S
    ) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self._read_timeout_s = read_timeout_s
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._sent_at: deque[float] = deque()  # when each waiter's command was queued
        self._deadline: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        keep_alive(transport.get_extra_info("socket"))

    def call(self, payload: bytes) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise _NotSent(f"the Redis connection was lost: {self.lost}")
        future: asyncio.Future[Any] = self.loop.create_future()
        self._waiting.append(future)
        self._sent_at.append(self.loop.time())
        if self._deadline is None:
            self._deadline = self.loop.call_later(self._read_timeout_s, self._check_deadline)
        if not self._out:  # the first command of this loop iteration: write them all after it
            self.loop.call_soon(self._flush)
        self._out.append(payload)
        return future

    def _check_deadline(self) -> None:
        """The oldest waiter's reply is overdue: the connection is dead or half-open."""
        self._deadline = None
        if not self._sent_at:
            return
        waited = self.loop.time() - self._sent_at[0]
        if waited < self._read_timeout_s:
            self._deadline = self.loop.call_later(
                self._read_timeout_s - waited, self._check_deadline
            )
            return
        self._fail(RedisTimeoutError(f"no reply from Redis within {self._read_timeout_s} s"))
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        if self.lost is not None:
            self._out = []
            return  # its waiters were failed already
        transport = self.transport
        if transport is None or transport.is_closing():
            # _fail tells the waiters of the commands still in _out that they were not sent
            self._fail(RedisConnectionError("cannot write to Redis: the connection is closed"))
            return
        out, self._out = self._out, []
        try:
            transport.write(b"".join(out))
        except Exception as exc:  # no waiter may be left without an answer
            self._fail(RedisConnectionError(f"cannot write to Redis: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        try:
            while pos < len(buf):
                value, pos = parse(buf, pos)
                future = self._waiting.popleft()
                self._sent_at.popleft()
                if future.done():  # its caller was cancelled; the reply is dropped
                    continue
                if isinstance(value, ResponseError):
                    future.set_exception(value)
                else:
                    future.set_result(value)
        except _Incomplete:
            pass
        except Exception as exc:  # a reply we cannot read: the stream is out of step
            self._fail(RedisConnectionError(f"unreadable Redis reply: {exc}"))
            if self.transport is not None:
                self.transport.abort()
            return
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"the Redis connection was lost: {exc or 'closed'}"))

    def _fail(self, exc: Exception) -> None:
        if self.lost is None:
            self.lost = exc
        self._sent_at.clear()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        # the last len(_out) waiters' commands were never written: they may go again
        written = len(self._waiting) - len(self._out)
        self._out = []
        unsent = _NotSent(str(exc))
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc if written > 0 else unsent)
            written -= 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LeanRedis:
    """Pipelined commands on one connection per event loop (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._host = host
        self._read_timeout_s = read_timeout_s
        self._port = port
        self._db = db
        self._username = username
        self._password = password
        self._pipe: _Pipe | None = None
        self._connecting: asyncio.Task[_Pipe] | None = None

    @classmethod
    def from_client(cls, redis: Redis) -> LeanRedis | None:
        """A new pipelined connection to `redis`'s server and database (None when the client
        is not plain TCP: TLS, unix socket). The composition root builds one per process and
        hands it to the queue, the rate limiter and the locks; close it with `close()`."""
        pool = redis.connection_pool
        if pool.connection_class is not PlainConnection:  # TLS, unix socket, ...
            return None
        kwargs = pool.connection_kwargs
        return cls(
            str(kwargs.get("host") or "localhost"),
            int(kwargs.get("port") or 6379),
            db=int(kwargs.get("db") or 0),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
        )

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (bytes, int, list or None)."""
        payload = encode(args)
        try:
            return await (await self._live_pipe()).call(payload)
        except _NotSent:
            # its connection died before the command was written: once more on a new one
            return await (await self._live_pipe()).call(payload)

    async def _live_pipe(self) -> _Pipe:
        pipe = self._pipe
        if pipe is None or pipe.lost is not None or pipe.loop is not asyncio.get_running_loop():
            pipe = await self._connect()
        return pipe

    async def _connect(self) -> _Pipe:
        # The connection is opened by a task of its own, not by the caller that needed it
        # first: a caller cancelled meanwhile (a timeout, a client gone) must not cancel the
        # connection every other waiter is waiting for (they would all get CancelledError).
        loop = asyncio.get_running_loop()
        connecting = self._connecting
        if connecting is None or connecting.get_loop() is not loop:
            connecting = self._connecting = loop.create_task(self._open_and_keep(loop))
            connecting.add_done_callback(_retrieve)
        return await asyncio.shield(connecting)

    async def _open_and_keep(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        try:
            pipe = await self._open(loop)
        finally:
            self._connecting = None
        self._pipe = pipe
        return pipe

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        try:
            _, pipe = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Pipe(loop, self._read_timeout_s), self._host, self._port
                ),
                self._read_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {self._host}:{self._port}: {exc}"
            ) from exc
        try:
            if self._password is not None:
                auth = (
                    ("AUTH", self._username, self._password)
                    if self._username
                    else ("AUTH", self._password)
                )
                await pipe.call(encode(auth))
            if self._db:
                await pipe.call(encode(("SELECT", self._db)))
        except BaseException:
            pipe.close()
            raise
        return pipe

    def close(self) -> None:
        """Close the connection (a later command reconnects)."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()


def keep_alive(sock: socket.socket | None) -> None:
    """TCP keepalive on `sock`: a peer that vanished is noticed within ~25 s of idleness."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        option = getattr(socket, name, None)
        if option is not None:  # Linux has all three; others keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


async def run_script(
    redis: Redis, lean: LeanRedis | None, script: AsyncScript, keys: list[str], args: list[Any]
) -> Any:
    """EVALSHA `script` on the pipelined connection `lean` when there is one (else redis-py's
    EVALSHA, without AsyncScript's per-call wrapper), loading it through redis-py only if
    Redis lost it (restart, SCRIPT FLUSH)."""
    try:
        if lean is not None:
            return await lean.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        return await redis.evalsha(script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return await script(keys=keys, args=args)


def _retrieve(task: asyncio.Task[_Pipe]) -> None:
    """Mark a failed connection attempt's error as seen (every waiter got it already)."""
    if not task.cancelled():
        task.exception()
