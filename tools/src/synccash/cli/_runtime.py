"""The long-running programs behind `serve`, `api`, `sandbox run` and `migrate`.

`run_embedded` is the whole product in one process: the provider sandboxes in-process
(`_embedded`, unless SANDBOX_MODE=external), `bootstrap(settings, provider_clients=...)`
(SQLite migrated on start, in-memory queue when nothing else is configured), the API on
uvicorn, and the worker (consumers, outbox relay, scheduler) in the same event loop. The first SIGINT/SIGTERM stops
the HTTP server, then lets the worker finish in-flight tasks, then closes every
connection; the process exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Generator

import anyio
import uvicorn
from attrs import frozen

from synccash.adapters.bootstrap import bootstrap
from synccash.adapters.settings import Settings
from synccash.api.app import create_app
from synccash.cli._embedded import provider_clients_for, seed_sandbox_floats
from synccash.cli._errors import CliError
from synccash.worker.app import configure_logging
from synccash.worker.app import run as run_worker_loop
from synccash.worker.app import serve as serve_worker


@frozen
class Ready:
    """What `serve` tells the user once everything answers."""

    base_url: str
    settings: Settings


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the caller owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front so 'address in use' is a clear error, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


async def run_embedded(
    settings: Settings,
    sock: socket.socket,
    *,
    concurrency: int = 4,
    on_ready: Callable[[Ready], None],
    uvicorn_log_level: str = "warning",
) -> None:
    """Serve API + worker + scheduler (+ in-process sandboxes) until SIGINT/SIGTERM."""
    configure_logging(settings.log_level, settings.log_format)
    host, port = sock.getsockname()[:2]
    stop = anyio.Event()
    async with (
        provider_clients_for(settings) as clients,
        bootstrap(settings, provider_clients=clients) as container,
    ):
        if clients is not None and container.ledger is not None:
            await seed_sandbox_floats(container.ledger, container.clock.now())
        app = create_app(container)
        server = _QuietServer(
            uvicorn.Config(
                app,
                lifespan="on",
                log_level=uvicorn_log_level,
                access_log=False,
                proxy_headers=False,
            )
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, stop)
            tg.start_soon(lambda: server.serve(sockets=[sock]))
            tg.start_soon(lambda: run_worker_loop(container, stop=stop, concurrency=concurrency))
            # uvicorn exposes readiness only as a flag
            while not server.started and not server.should_exit:  # noqa: ASYNC110
                await anyio.sleep(0.02)
            if not server.started:
                stop.set()
                raise CliError("the API did not start; see the log above")
            on_ready(Ready(f"http://{_url_host(host)}:{port}", settings))
            await stop.wait()
            server.should_exit = True  # stop accepting; the worker drains in its own task


async def _stop_on_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104  (display only)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def run_worker(settings: Settings, *, concurrency: int, metrics_port: int | None) -> None:
    """`synccash worker`: the worker until a signal, over in-process sandboxes when embedded."""
    async with provider_clients_for(settings) as clients:
        await serve_worker(
            concurrency, settings=settings, metrics_port=metrics_port, provider_clients=clients
        )


async def check_database(settings: Settings) -> None:
    """Connect once and check the schema (DatabaseError, one line, when it is not usable)."""
    from synccash.adapters import sql  # noqa: PLC0415  (alembic and SQLAlchemy are heavy)

    engine = sql.create_engine_from_settings(settings)
    try:
        await sql.check_schema(engine)
    finally:
        await engine.dispose()
