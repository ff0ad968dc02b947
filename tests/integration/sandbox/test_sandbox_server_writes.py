"""The served sandbox answers each request in one socket write (uvicorn alone: two), with the
same bytes on the wire: keep-alive, Connection: close and chunked answers still work."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from synccash.sandbox import serving
from synccash.sandbox._asgi import Receive, Scope, Send

pytestmark = pytest.mark.integration


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    if scope["path"] == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"two"})
        return
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_one_write_per_answer_and_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    selector_transport = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    original = selector_transport.write

    async with serving(_app) as url:
        port = httpx.URL(url).port

        def counting(self: asyncio.Transport, data: bytes) -> None:
            if self.get_extra_info("sockname")[1] == port:
                writes.append(bytes(data))
            original(self, data)

        monkeypatch.setattr(selector_transport, "write", counting)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = b"GET /x HTTP/1.1\r\nHost: sandbox\r\n\r\n"
        for _ in range(2):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"content-length: 11\r\n" in head
            assert await reader.readexactly(11) == b'{"ok":true}'
        writer.write(b"GET /chunked HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n")
        rest = await reader.read()  # until the server closes
        writer.close()
    assert len(writes) >= 4
    for answer in writes[:2]:  # head and body, together
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b'\r\n\r\n{"ok":true}')
    assert b"transfer-encoding: chunked" in rest
    assert rest.endswith(b"4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n")
