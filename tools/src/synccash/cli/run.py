"""`synccash serve | api | worker | migrate | sandbox run | bench`: the programs."""

import contextlib
import os
import pkgutil
import subprocess
import sys
import tempfile
from typing import Annotated, Final

import anyio
import typer
import uvicorn

from synccash.adapters.settings import Settings, process_environment
from synccash.api.auth import ALL_SCOPES, mint_token
from synccash.cli._console import console, err_console
from synccash.cli._errors import CliError, usage_error
from synccash.cli._runtime import Ready, bind, check_database, run_embedded, run_worker
from synccash.cli._settings import load_server_settings, load_settings, note_dev_secret

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)]

#: Merchant id of the token `serve` prints.
DEMO_MERCHANT: Final = "demo-merchant"
DEMO_TOKEN_TTL: Final = 24 * 3600


def _embedded_settings(host: str, port: int) -> Settings:
    """Settings for `serve`: the environment over `./.env`, plus friendlier defaults for a terminal."""
    env = process_environment()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    env.setdefault("PUBLIC_BASE_URL", f"http://{shown}:{port}")  # callbacks reach *this* process
    env.setdefault("LOG_FORMAT", "console")
    env.setdefault("LOG_LEVEL", "WARNING")
    return load_server_settings(env)


def _announce(ready: Ready) -> None:
    settings, url = ready.settings, ready.base_url
    token = mint_token(settings, DEMO_MERCHANT, ALL_SCOPES, DEMO_TOKEN_TTL)
    storage = (
        "SQLite " + settings.database_url.split("///", 1)[-1]
        if not settings.is_postgres
        else "PostgreSQL"
    )
    queue = "Redis" if settings.redis_url else "in-memory queue"
    sandboxes = "in-process sandboxes" if settings.embedded_sandboxes else "external providers"
    console.print(f"SyncCash is up ({storage}, {queue}, {sandboxes}); Ctrl-C stops it.\n")
    console.print(f"  API        {url}/api/v1")
    console.print(f"  Swagger UI {url}/api/docs")
    console.print(f"  ReDoc      {url}/api/redoc")
    console.print(f"  Health     {url}/api/v1/health/detailed")
    console.print(f"  Metrics    {url}/metrics\n")
    console.print(f"Merchant token for {DEMO_MERCHANT!r} (all scopes, 24 h):\n")
    console.print(f"export SYNCCASH_TOKEN={token}\n")
    console.print("Create a payment, then watch it confirm:\n")
    console.print(
        f"curl -s -X POST {url}/api/v1/payments/initiate \\\n"
        '  -H "Authorization: Bearer $SYNCCASH_TOKEN" -H "Idempotency-Key: order-1" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        """  -d '{"amount": "12.50", "payer": {"msisdn": "0241234567"}, """
        """"payee": {"merchant_account": "demo-merchant"}, "reference": "order-1"}'\n"""
    )
    console.print(f"synccash pay list --api-url {url}")


def serve(
    *,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    concurrency: Annotated[int, typer.Option(help="Worker tasks in flight.", min=1)] = 4,
) -> None:
    """Run the whole product in one process: API, worker, scheduler and provider sandboxes."""
    settings = _embedded_settings(host, port)
    note_dev_secret(settings)
    sock = bind(host, port)
    if port == 0:  # an ephemeral port: callbacks need the real one
        settings = _embedded_settings(host, sock.getsockname()[1])
    try:  # a database that is down or not migrated is one line (see _errors)
        anyio.run(lambda: run_embedded(settings, sock, concurrency=concurrency, on_ready=_announce))
    finally:
        sock.close()
    err_console.print("SyncCash stopped.")


def api(
    *,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.", min=1)] = 1,
) -> None:
    """Run the merchant API alone (production: PostgreSQL + Redis from the environment)."""
    settings = load_server_settings()  # fail early (exit 2) on a bad setting or secret
    bind(host, port).close()  # fail early (exit 1) on a busy port
    if settings.is_postgres:  # and on a database that is down or behind (SQLite is migrated)
        anyio.run(check_database, settings)
    err_console.print(f"SyncCash API on http://{host}:{port}/api/v1 (docs: /api/docs)")
    if workers > 1 and not settings.prometheus_multiproc_dir:
        # Several processes: each scrape of /metrics must add them all up (Prometheus
        # multiprocess mode), not show whichever process answered. The worker processes
        # inherit the variable; prometheus_client reads it when they import it.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="synccash-metrics-")
    # uvicorn re-raises the signal after a clean shutdown
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            "synccash.api.app:create_app_from_settings",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxy_ips,  # whose X-Forwarded-For counts
            access_log=False,
            log_level=settings.log_level.lower(),
        )


def worker(
    *,
    concurrency: Annotated[
        int,
        typer.Option(
            help="Tasks handled at once (mostly waiting on providers; a task holds a pooled "
            "database connection only for a read).",
            min=1,
        ),
    ] = 32,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on this port.", show_default=False),
    ] = None,
) -> None:
    """Run queue consumers, the outbox relay and the scheduler (leader-locked) until a signal."""
    settings = load_server_settings()
    anyio.run(lambda: run_worker(settings, concurrency=concurrency, metrics_port=metrics_port))


def migrate(
    *,
    revision: Annotated[str, typer.Option(help="Upgrade to this revision.")] = "head",
    downgrade: Annotated[
        str | None,
        typer.Option("--downgrade", help="Downgrade to this revision instead.", show_default=False),
    ] = None,
) -> None:
    """Apply (or revert) database migrations on DATABASE_URL."""
    settings = load_settings()
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from synccash.adapters import sql  # noqa: PLC0415

    url = settings.database_url
    where = url.split("@")[-1] if "@" in url else url  # never print a password
    try:
        if downgrade is not None:
            anyio.run(sql.downgrade, url, downgrade)
            console.print(f"database {where} downgraded to {downgrade}")
        else:
            anyio.run(sql.migrate, url, revision)
            console.print(f"database {where} migrated to {revision}")
    except (sql.DatabaseError, SQLAlchemyError) as exc:
        raise CliError(f"migration failed on {where}: {exc}") from None


sandbox_app = typer.Typer(
    name="sandbox",
    help="Provider sandboxes (MTN MoMo, AT Money, Telecel Cash).",
    no_args_is_help=True,
)


@sandbox_app.command(
    "run",
    epilog=(
        "Examples:\n\n"
        "  synccash sandbox run                       # all three under /mtn, /airteltigo, /telecel\n\n"
        "  synccash sandbox run --provider mtn --port 8101"
    ),
)
def sandbox_run(
    *,
    provider: Annotated[
        str, typer.Option(help="mtn, airteltigo, telecel or all (mounted under /<provider>).")
    ] = "all",
    host: Host = "127.0.0.1",
    port: Port = 8100,
    seed: Annotated[int, typer.Option(help="Seed for approval delays and faults.")] = 0,
) -> None:
    """Serve provider sandboxes over HTTP (their real wire formats, a shared wallet world)."""
    choices = ("mtn", "airteltigo", "telecel", "all")
    if provider not in choices:
        usage_error(f"--provider must be one of {', '.join(choices)}, got {provider!r}")
    bind(host, port).close()
    from synccash.sandbox import serve as serve_sandbox  # noqa: PLC0415

    def ready(url: str) -> None:
        mounts = "" if provider != "all" else " (/mtn, /airteltigo, /telecel)"
        err_console.print(f"sandbox {provider} on {url}{mounts}; admin API under /_admin")

    target = None if provider == "all" else provider
    # uvicorn re-raises the signal after a clean shutdown
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(lambda: serve_sandbox(target, host, port, seed=seed, on_ready=ready))


def available_benches() -> tuple[str, ...]:
    """Benchmark modules shipped in synccash.bench (each runnable with `python -m`)."""
    import synccash.bench  # noqa: PLC0415

    return tuple(
        sorted(m.name for m in pkgutil.iter_modules(synccash.bench.__path__) if not m.ispkg)
    )


def bench(
    *,
    name: Annotated[
        list[str] | None,
        typer.Argument(help="Benchmarks to run (default: core); see --list.", show_default=False),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(help="Passed to each benchmark as --seconds.", min=0.1, show_default=False),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the benchmarks and exit.")
    ] = False,
) -> None:
    """Run benchmark modules (`python -m synccash.bench.<name>`); each prints its numbers."""
    known = available_benches()
    if list_only:
        console.print("\n".join(known))
        return
    chosen = name or ["core"]
    for bench_name in chosen:
        if bench_name not in known:
            usage_error(f"unknown benchmark {bench_name!r}; choose from {', '.join(known)}")
    extra = [] if seconds is None else ["--seconds", f"{seconds:g}"]
    for bench_name in chosen:
        err_console.print(f"running synccash.bench.{bench_name} …")
        command = [sys.executable, "-m", f"synccash.bench.{bench_name}", *extra]
        result = subprocess.run(command, check=False)  # noqa: S603  (our own modules only)
        if result.returncode != 0:
            raise CliError(f"benchmark {bench_name} failed with exit code {result.returncode}")
