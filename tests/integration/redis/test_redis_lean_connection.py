"""LeanRedis: the pipelined connection the rate limiter and locks use, against a real Redis."""

from __future__ import annotations

import asyncio
import socket

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from synccash.adapters.engines.resp import KEEPALIVE_IDLE_S, LeanRedis, encode, parse
from synccash.adapters.redis.ratelimit import RedisLocks, RedisRateLimiter

pytestmark = pytest.mark.integration


def test_resp_encoding_and_replies():
    """Commands are RESP arrays of bulk strings; every RESP2 reply type reads back."""
    assert encode(("SET", "k", b"v", 5)) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n5\r\n"
    assert encode(("X", 0.5)) == b"*2\r\n$1\r\nX\r\n$3\r\n0.5\r\n"
    with pytest.raises(TypeError):
        encode(("SET", "k", True))  # as redis-py, a bool is refused rather than sent as "True"
    reply = b"*4\r\n+OK\r\n:-3\r\n$-1\r\n*2\r\n$2\r\nab\r\n-ERR bad\r\n"
    value, end = parse(reply, 0)
    assert end == len(reply)
    assert value[:3] == [b"OK", -3, None]
    assert value[3][0] == b"ab"
    assert isinstance(value[3][1], ResponseError)
    assert isinstance(parse(b"-NOSCRIPT No matching script\r\n", 0)[0], NoScriptError)


async def test_it_uses_the_clients_database_and_pipelines_concurrent_commands(
    redis: Redis, lean: LeanRedis
):
    """Same db as the client (SELECT from the URL); 200 concurrent commands, each its reply."""
    assert await lean.execute("SET", "lean:k", "v") == b"OK"
    assert await redis.get("lean:k") == b"v"  # redis-py, same database
    replies = await asyncio.gather(*(lean.execute("INCRBY", "lean:n", i) for i in range(200)))
    assert replies == [sum(range(i + 1)) for i in range(200)]  # sent and answered in order
    assert int(await redis.get("lean:n")) == sum(range(200))
    with pytest.raises(ResponseError):
        await lean.execute("INCR", "lean:k")  # not an integer: the error, in order
    assert await lean.execute("GET", "lean:k") == b"v"  # the stream is still in step
    with pytest.raises(NoScriptError):
        await lean.execute("EVALSHA", "0" * 40, 0)


async def test_a_caller_cancelled_while_connecting_does_not_fail_the_others(
    redis: Redis, lean: LeanRedis
):
    """The first caller opens the connection; cancelling it leaves the connection to the rest."""
    await redis.set("lean:b", "B")
    first = asyncio.ensure_future(lean.execute("GET", "lean:b"))
    second = asyncio.ensure_future(lean.execute("GET", "lean:b"))
    await asyncio.sleep(0)  # both are waiting for the one connection being opened
    first.cancel()
    assert await second == b"B"
    assert await lean.execute("GET", "lean:b") == b"B"


async def test_a_cancelled_caller_does_not_shift_the_replies(redis: Redis, lean: LeanRedis):
    """A caller that gives up leaves its reply to be dropped, not handed to the next one."""
    await redis.set("lean:a", "A")
    slow = asyncio.ensure_future(lean.execute("BLPOP", "lean:empty", "0.2"))
    await asyncio.sleep(0.01)
    slow.cancel()
    assert await lean.execute("GET", "lean:a") == b"A"


async def test_a_lost_connection_fails_its_waiters_and_the_next_command_reconnects(
    redis: Redis, lean: LeanRedis
):
    """Killing the connection: waiting commands get ConnectionError, later ones work again."""
    own_id = await lean.execute("CLIENT", "ID")
    waiting = asyncio.ensure_future(lean.execute("BLPOP", "lean:empty", "5"))
    await asyncio.sleep(0.05)
    # only this test's own connection: others on the server (benches, helpers) are left alone
    assert await redis.execute_command("CLIENT", "KILL", "ID", own_id) == 1
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await lean.execute("PING") == b"PONG"


async def test_commands_on_a_closed_connection_fail_instead_of_hanging(
    redis: Redis, lean: LeanRedis
):
    """A command written after close (before connection_lost arrives) gets an error."""
    assert await lean.execute("PING") == b"PONG"
    pipe = lean._pipe
    assert pipe is not None
    pipe.close()
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(pipe.call(encode(("PING",))), 2)
    assert await lean.execute("PING") == b"PONG"  # reconnected


async def test_no_redis_is_a_connection_error():
    """Nothing listening: the caller sees redis-py's ConnectionError (the API answers 503)."""
    dead = Redis.from_url("redis://127.0.0.1:1/0")
    lean = LeanRedis.from_client(dead)
    assert lean is not None
    with pytest.raises(RedisConnectionError):
        await lean.execute("PING")
    with pytest.raises(RedisConnectionError):
        await RedisLocks(dead, lean=lean).release("k", "t")
    with pytest.raises(RedisConnectionError):
        await RedisLocks(dead).release("k", "t")  # the engine off: redis-py's own error
    await dead.aclose()


async def test_locks_and_bucket_survive_a_script_flush(redis: Redis, lean: LeanRedis):
    """Redis lost its scripts (restart, SCRIPT FLUSH): they are loaded again, not failed."""
    locks = RedisLocks(redis, lean=lean)
    limiter = RedisRateLimiter(redis, capacity=5, per_second=10, lean=lean)
    token = await locks.try_lock("k", 10_000)
    assert token is not None
    await redis.script_flush()
    assert await locks.release("k", token)
    await redis.script_flush()
    assert await limiter.acquire_and_lock("m", locks, "k", 10_000) != (None, None)
    await redis.script_flush()
    assert await limiter.acquire("m") is None


async def test_concurrent_releases_compare_their_tokens(redis: Redis, lean: LeanRedis):
    """20 releases at once: owners free their locks, stale tokens free nothing."""
    locks = RedisLocks(redis, lean=lean)
    tokens = [await locks.try_lock(f"k{i}", 10_000) for i in range(20)]
    assert all(tokens)
    attempts = [(f"k{i}", t if i % 2 == 0 else "stale") for i, t in enumerate(tokens)]
    results = await asyncio.gather(*(locks.release(k, t) for k, t in attempts if t is not None))
    assert results == [i % 2 == 0 for i in range(20)]
    for i in range(20):
        assert await redis.exists(locks.key(f"k{i}")) == (i % 2 == 1)


async def test_a_half_open_connection_fails_its_waiters_within_the_read_deadline():
    """A server that accepts and never answers: waiters fail with TimeoutError, not forever."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing (a frozen peer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lean = LeanRedis("127.0.0.1", port, read_timeout_s=0.3)
    try:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(
            *(lean.execute("PING") for _ in range(5)), return_exceptions=True
        )
        waited = asyncio.get_running_loop().time() - started
        assert all(isinstance(r, RedisTimeoutError) for r in results)
        assert 0.3 <= waited < 2.0
        pipe = lean._pipe
        assert pipe is not None
        assert pipe.lost is not None  # replaced on the next command
    finally:
        lean.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_connection_has_tcp_keepalive(redis: Redis, lean: LeanRedis):
    """The socket probes an idle peer (a vanished Redis is noticed without traffic)."""
    assert await lean.execute("PING") == b"PONG"
    pipe = lean._pipe
    assert pipe is not None
    assert pipe.transport is not None
    sock = pipe.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_S


async def test_a_command_never_written_goes_again_on_a_new_connection(
    redis: Redis, lean: LeanRedis
):
    """A connection closed before the write: the command is sent once more, and answered."""
    assert await lean.execute("PING") == b"PONG"
    pipe = lean._pipe
    assert pipe is not None
    pipe.close()  # closing, before connection_lost: the write would find it closed
    assert await lean.execute("SET", "lean:again", "1") == b"OK"
    assert await redis.get("lean:again") == b"1"
    assert lean._pipe is not pipe
