"""Serve a Litestar app with uvicorn on a loopback port in a background thread (for real-HTTP tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from litestar import Litestar

from synccash.bench.harness.processes import free_port


@contextmanager
def served(app: Litestar, *, start_timeout_s: float = 20.0) -> Iterator[str]:
    """The app's base URL (http://127.0.0.1:PORT) while it is being served."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = f"the API did not start within {start_timeout_s} s"
            raise RuntimeError(msg)
        time.sleep(0.05)
    try:
        (host, port) = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
