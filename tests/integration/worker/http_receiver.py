"""A tiny real HTTP receiver on loopback for webhook tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketStream
from attrs import define, field


@define
class Received:
    """What the receiver got: headers (lower-case names) and the raw body."""

    headers: dict[str, str]
    body: bytes
    request_line: str = ""


@define
class Receiver:
    """A tiny HTTP/1.1 server answering each POST with the next status in `statuses`."""

    statuses: list[int]
    received: list[Received] = field(factory=list)

    async def handle(self, stream: SocketStream) -> None:
        """Read one request, record it, answer and close."""
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
            }
            while len(body) < int(headers.get("content-length", "0")):
                body += await stream.receive()
            self.received.append(Received(headers, body, lines[0]))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            await stream.send(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )


@asynccontextmanager
async def serving(receiver: Receiver, port: int) -> AsyncIterator[None]:
    """Run the receiver on 127.0.0.1:`port` for the duration of the block."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, receiver.handle)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
