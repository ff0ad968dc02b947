"""The provider HTTP client over real sockets: keep-alive reuse, server-closed connections,
transport errors (which decide TRANSIENT vs UNKNOWN) and redirects."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from synccash.adapters.providers import provider_http_client

pytestmark = [pytest.mark.integration]

_TIMEOUT = httpx.Timeout(5.0)


@contextlib.asynccontextmanager
async def raw_server(
    answer: bytes, *, close_after: float | None
) -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server answering `answer` to each request; closes idle connections after
    `close_after` seconds (None: keeps them). Yields its URL and a per-connection request count."""
    counts: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(0)
        index = len(counts) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                counts[index] += 1
                writer.write(answer)
                await writer.drain()
                if close_after is not None:
                    await asyncio.sleep(close_after)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", counts
    finally:
        server.close()
        await server.wait_closed()


_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


async def test_keep_alive_connections_are_reused() -> None:
    """Sequential calls share one connection."""
    async with (
        raw_server(_OK, close_after=None) as (url, counts),
        provider_http_client(_TIMEOUT, concurrency=4) as http,
    ):
        for _ in range(5):
            response = await http.post(f"{url}/pay", content=b"{}")
            assert response.json() == {"ok": True}
    assert counts == [5]


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The next call notices the server's close and opens a new connection (no error)."""
    async with (
        raw_server(_OK, close_after=0.05) as (url, counts),
        provider_http_client(_TIMEOUT, concurrency=4) as http,
    ):
        first = await http.get(f"{url}/status")
        await asyncio.sleep(0.3)
        second = await http.get(f"{url}/status")
    assert (first.status_code, second.status_code) == (200, 200)
    assert counts == [1, 1]


async def test_connection_refused_is_a_connect_error() -> None:
    """Nothing listening: httpx.ConnectError, which the clients classify as 'not sent'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with provider_http_client(_TIMEOUT, concurrency=1) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_read_timeout_after_sending_is_a_read_timeout() -> None:
    """A server that never answers: httpx.ReadTimeout (the request may have been written)."""
    async with (
        raw_server(b"", close_after=None) as (url, _counts),
        provider_http_client(httpx.Timeout(0.2), concurrency=1) as http,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await http.post(f"{url}/pay", content=b"{}")


async def test_redirects_are_not_followed_and_the_environment_is_ignored() -> None:
    """A provider's 3xx is returned as is; proxies/.netrc from the environment are not used."""
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\nContent-Length: 0\r\n\r\n"
    async with (
        raw_server(moved, close_after=None) as (url, counts),
        provider_http_client(_TIMEOUT, concurrency=1) as http,
    ):
        response = await http.post(f"{url}/pay", content=b"{}")
        assert not http.trust_env
    assert response.status_code == 302
    assert counts == [1]
