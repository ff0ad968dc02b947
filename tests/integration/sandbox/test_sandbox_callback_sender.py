"""The served sandbox's callback sender over real sockets: the request on the wire,
keep-alive reuse, connections the merchant closed, chunked answers and failures."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from raw_merchant import read_request, serving

from synccash.sandbox._callbacks import CallbackSender

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def merchant(
    answer: bytes, *, close_after_each: bool = False
) -> AsyncIterator[tuple[str, list[list[bytes]]]]:
    """A raw HTTP/1.1 endpoint; yields its URL and the requests received per connection."""
    connections: list[list[bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received: list[bytes] = []
        connections.append(received)
        try:
            while True:
                received.append(await read_request(reader))
                writer.write(answer)
                await writer.drain()
                if close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with serving(handle) as url:
        yield url, connections


async def test_the_request_on_the_wire() -> None:
    """Method, path and query, Host, the provider's headers, httpx's defaults and the exact body."""
    sender = CallbackSender()
    async with merchant(_OK) as (url, connections):
        status = await sender.send(
            "POST",
            f"{url}/api/v1/callbacks/mtn/ref-1?x=1",
            {"user-agent": "LWAC Http Client 1.0", "content-type": "application/json"},
            b'{"status":"SUCCESSFUL"}',
        )
        await sender.aclose()
    assert status == 200
    [[raw]] = connections
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v1/callbacks/mtn/ref-1?x=1 HTTP/1.1"
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["host"] == url.removeprefix("http://")
    assert headers["user-agent"] == "lwac http client 1.0"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "*/*"
    assert headers["content-length"] == str(len(body))
    assert body == b'{"status":"SUCCESSFUL"}'


async def test_keep_alive_connection_is_reused() -> None:
    """Callbacks one after another share one connection."""
    sender = CallbackSender()
    async with merchant(_OK) as (url, connections):
        for n in range(4):
            assert await sender.send("POST", f"{url}/cb/{n}", {}, b"{}") == 200
        await sender.aclose()
    assert [len(requests) for requests in connections] == [4]


async def test_a_connection_the_merchant_closed_is_not_reused() -> None:
    """The next callback opens a new connection instead of failing on the closed one."""
    sender = CallbackSender()
    async with merchant(_OK, close_after_each=True) as (url, connections):
        assert await sender.send("POST", f"{url}/cb/1", {}, b"{}") == 200
        await asyncio.sleep(0.1)
        assert await sender.send("POST", f"{url}/cb/2", {}, b"{}") == 200
        await sender.aclose()
    assert [len(requests) for requests in connections] == [1, 1]


async def test_chunked_and_error_answers() -> None:
    """A chunked 500 is read to its end; the status is reported and the connection kept."""
    chunked = (
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nerror\r\n0\r\n\r\n"
    )
    sender = CallbackSender()
    async with merchant(chunked) as (url, connections):
        assert await sender.send("POST", f"{url}/cb", {}, b"{}") == 500
        assert await sender.send("POST", f"{url}/cb", {}, b"{}") == 500
        await sender.aclose()
    assert [len(requests) for requests in connections] == [2]


async def test_refused_and_silent_endpoints_raise() -> None:
    """Nothing listening, or no answer within the timeout: an exception (the caller drops it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        await CallbackSender().send("POST", f"http://127.0.0.1:{port}/cb", {}, b"{}")
    async with merchant(b"") as (url, _):
        with pytest.raises(TimeoutError):
            await CallbackSender(timeout=0.2).send("POST", f"{url}/cb", {}, b"{}")


def test_only_plain_http_is_sent_directly() -> None:
    """https callback URLs go through httpx (TLS)."""
    assert CallbackSender.handles("http://merchant.example/cb")
    assert CallbackSender.handles("HTTP://merchant.example/cb")
    assert not CallbackSender.handles("https://merchant.example/cb")
