"""Running an ASGI app on a real socket: in the background (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from synccash.sandbox._asgi import ASGIApp


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
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
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
