"""Running an ASGI app on a real socket: in the background (tests) or in the foreground (CLI).

uvicorn writes a response's head and its body in two socket writes; on a VM
where every loopback write that wakes the client costs tens of microseconds
(and the client then reads twice), that doubled the cost of each answer.
`SandboxHttpProtocol` is uvicorn's own HTTP protocol writing through a
transport that joins the writes made in one event-loop step into one: the
bytes on the wire are unchanged, only their packaging.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from synccash.sandbox._asgi import ASGIApp


class _JoiningTransport:
    """A transport proxy: writes made in one loop step go out as one write at its end."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class SandboxHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, one socket write per response (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joining: Any = _JoiningTransport(transport, self.loop)
        super().connection_made(joining)


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on the current event loop; yields its base URL.

    ``port=0`` picks a free port. Used by tests (contract tests included) to
    talk to a sandbox over real HTTP.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, http=SandboxHttpProtocol
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{bound_port}"
    finally:
        # uvicorn notices should_exit on its next 0.1 s tick; cancelling its main loop and
        # running the (public) shutdown ourselves saves that tick on every test.
        server.should_exit = True
        if server.started and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await server.shutdown(sockets=[sock])
        else:
            await task
        sock.close()
