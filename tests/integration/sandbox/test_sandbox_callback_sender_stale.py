"""The callback sender and keep-alive connections the merchant closes (real sockets).

A callback the sandbox "sent" on a connection the merchant had just closed was
lost (the benchmark saw 3-8 of 500 missing when idle connections outlived the
merchant's 5 s keep-alive): the sender now checks harder before reuse and sends
once more on a new connection when a reused one closes before any answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from raw_merchant import read_request, serving

from synccash.sandbox import _callbacks
from synccash.sandbox._callbacks import CallbackSender

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def merchant(*, drop_second: bool) -> AsyncIterator[tuple[str, list[list[bytes]]]]:
    """Answers every request; with `drop_second`, the first connection's second request is
    read and the connection closed without an answer (a keep-alive close racing a request)."""
    connections: list[list[bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received: list[bytes] = []
        connections.append(received)
        first = len(connections) == 1
        try:
            while True:
                received.append(await read_request(reader))
                if drop_second and first and len(received) == 2:
                    return
                writer.write(_OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with serving(handle) as url:
        yield url, connections


async def test_a_reused_connection_closed_before_any_answer_is_retried_on_a_new_one() -> None:
    sender = CallbackSender()
    async with merchant(drop_second=True) as (url, connections):
        assert await sender.send("POST", f"{url}/cb/1", {}, b'{"n":1}') == 200
        assert await sender.send("POST", f"{url}/cb/2", {}, b'{"n":2}') == 200
        assert await sender.send("POST", f"{url}/cb/3", {}, b'{"n":3}') == 200
        await sender.aclose()
    assert [len(requests) for requests in connections] == [2, 2]
    assert connections[0][1] == connections[1][0]  # the same callback, sent again
    assert connections[1][1].startswith(b"POST /cb/3 ")


async def test_a_fresh_connection_closed_before_an_answer_still_raises() -> None:
    """Only a reused connection is retried: a merchant that drops every request is an error."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader)
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        with pytest.raises(Exception):  # noqa: B017 - h11's or the socket's
            await CallbackSender().send("POST", f"{url}/cb", {}, b"{}")
    finally:
        server.close()
        await server.wait_closed()


async def test_a_connection_idle_past_the_merchants_keep_alive_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_callbacks, "_IDLE_SECONDS", 0.3)
    sender = CallbackSender()
    async with merchant(drop_second=False) as (url, connections):
        assert await sender.send("POST", f"{url}/cb/1", {}, b"{}") == 200
        assert await sender.send("POST", f"{url}/cb/2", {}, b"{}") == 200
        await asyncio.sleep(0.5)
        assert await sender.send("POST", f"{url}/cb/3", {}, b"{}") == 200
        await sender.aclose()
    assert [len(requests) for requests in connections] == [2, 1]
