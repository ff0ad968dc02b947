"""Provider-call benchmark: CPU per HTTP call of the provider clients and of the sandboxes.

Starts the three sandboxes (one process, as the lifecycle bench's harness does: no
faults, the payer approves at once, callbacks on) and a callback sink (another
process that answers 200 and counts), then drives the real clients through the
gateway composed as bootstrap composes it (`--http per-provider`, the default: one
`provider_http_client` per provider; `--http shared`: the one plain
`httpx.AsyncClient` bootstrap falls back to behind an HTTPS proxy). Per provider it runs N account-holder lookups, N collection
submits and N status queries (each status asks about one of the submitted
references), `--concurrency` calls at a time, and prints for every phase the
client CPU (this process) and the sandbox CPU (`/proc/<pid>/stat`) per call.
A submit phase ends when the sink has received every callback, so the sandbox's
callback POSTs count against the submits that caused them.

A "call" is one gateway operation; MTN's lookup is two HTTP requests (`active`,
then `basicuserinfo` for the name), every other operation one.

    uv run python -m synccash.bench.providers [--rounds 500] [--repeat 3] [--http per-provider]

The last line is `provider_calls_per_s=<n> client_cpu_us_per_call=<a>
sandbox_cpu_us_per_call=<b>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
import structlog
from attrs import frozen

from synccash.adapters.providers import MultiProviderGateway, build_gateway, provider_http_client
from synccash.adapters.settings import Settings
from synccash.bench.harness.processes import (
    cpu_seconds,
    free_port,
    load_average,
    spawn,
    stop,
    wait_http,
)
from synccash.bench.harness.stack import serve_sandbox
from synccash.core.money import Money
from synccash.core.msisdn import Msisdn
from synccash.core.payment import AttemptKind
from synccash.core.ports import AttemptRequest
from synccash.core.providers import ProviderId

#: A national prefix per provider (never a sandbox test number: see `_msisdn`).
_PREFIX: Final = {ProviderId.MTN: "024", ProviderId.AIRTELTIGO: "027", ProviderId.TELECEL: "020"}
_KINDS: Final = ("lookup", "submit", "status")


@frozen
class Phase:
    """One kind of call against one provider: how many, how long, what CPU on each side."""

    provider: ProviderId
    kind: str
    calls: int
    seconds: float
    client_cpu_s: float
    sandbox_cpu_s: float

    @property
    def client_us(self) -> float:
        """Client CPU microseconds per call."""
        return self.client_cpu_s * 1e6 / max(self.calls, 1)

    @property
    def sandbox_us(self) -> float:
        """Sandbox CPU microseconds per call."""
        return self.sandbox_cpu_s * 1e6 / max(self.calls, 1)


# --------------------------------------------------------------------------- processes
async def _sink(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The merchant's callback endpoint: 200 to every request; GET /_count says how many POSTs."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "GET" and scope["path"] == "/_count":
        body = str(_SINK_COUNT[0]).encode()
    else:
        _SINK_COUNT[0] += 1
        body = b""
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_SINK_COUNT = [0]


def serve_sink(port: int) -> None:
    """Run the callback sink on 127.0.0.1:`port` until killed."""
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        _sink, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False
    )
    anyio.run(uvicorn.Server(config).serve)


def _spawn(flag: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    return spawn([sys.executable, "-m", "synccash.bench.providers", flag, str(port)], None, log)


# --------------------------------------------------------------------------- the calls
def _msisdn(provider: ProviderId, n: int) -> Msisdn:
    """A distinct number per call; the 1 after the prefix keeps clear of 0XX00000NN test numbers."""
    return Msisdn.parse(f"{_PREFIX[provider]}1{n % 1_000_000:06d}")


def _request(provider: ProviderId, n: int, reference: str, callback_base: str) -> AttemptRequest:
    payment_id = f"pay_bench{n:08d}"
    return AttemptRequest(
        provider=provider,
        kind=AttemptKind.COLLECT,
        reference=reference,
        amount=Money.of(1_250 + n % 100),
        msisdn=_msisdn(provider, n),
        payment_id=payment_id,
        note=payment_id,
        callback_url=f"{callback_base}/{provider.value}/{reference}",
    )


async def _run_all(calls: Sequence[Callable[[], Awaitable[object]]], concurrency: int) -> None:
    """Run the calls, `concurrency` at a time."""
    pending = iter(calls)

    async def lane() -> None:
        for call in pending:
            await call()

    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(lane)


async def _phase(
    provider: ProviderId,
    kind: str,
    calls: Sequence[Callable[[], Awaitable[object]]],
    *,
    concurrency: int,
    sandbox_pid: int,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Phase:
    sandbox0, client0, wall0 = cpu_seconds(sandbox_pid), time.process_time(), time.perf_counter()
    await _run_all(calls, concurrency)
    seconds = time.perf_counter() - wall0
    if settle is not None:
        await settle()
    return Phase(
        provider,
        kind,
        len(calls),
        seconds,
        time.process_time() - client0,
        cpu_seconds(sandbox_pid) - sandbox0,
    )


async def _round(
    gateway: MultiProviderGateway,
    provider: ProviderId,
    *,
    first: int,
    count: int,
    concurrency: int,
    sandbox_pid: int,
    callbacks: Callable[[int], Awaitable[None]],
    callback_base: str,
) -> list[Phase]:
    """Lookups, then submits (until their callbacks arrived), then status queries."""
    numbers = range(first, first + count)
    references = [str(uuid.uuid4()) for _ in numbers]
    outcomes: list[str] = []

    def lookup(n: int) -> Callable[[], Awaitable[object]]:
        return lambda: gateway.lookup(provider, _msisdn(provider, n))

    def submit(n: int, reference: str) -> Callable[[], Awaitable[object]]:
        async def call() -> None:
            outcome = await gateway.submit(_request(provider, n, reference, callback_base))
            outcomes.append(outcome.kind.value)

        return call

    def status(reference: str) -> Callable[[], Awaitable[object]]:
        async def call() -> None:
            outcome = await gateway.status(provider, AttemptKind.COLLECT, reference)
            outcomes.append(outcome.kind.value)

        return call

    phases = [
        await _phase(
            provider,
            "lookup",
            [lookup(n) for n in numbers],
            concurrency=concurrency,
            sandbox_pid=sandbox_pid,
        ),
        await _phase(
            provider,
            "submit",
            [submit(n, ref) for n, ref in zip(numbers, references, strict=True)],
            concurrency=concurrency,
            sandbox_pid=sandbox_pid,
            settle=lambda: callbacks(count),
        ),
        await _phase(
            provider,
            "status",
            [status(ref) for ref in references],
            concurrency=concurrency,
            sandbox_pid=sandbox_pid,
        ),
    ]
    expected = {"pending"} | {"succeeded"}
    if not set(outcomes) <= expected:
        raise SystemExit(f"{provider}: unexpected outcomes {sorted(set(outcomes))}")
    return phases


def _settings(sandbox: str, public: str) -> Settings:
    return Settings.from_env(
        {
            "SANDBOX_MODE": "external",
            "MTN_BASE_URL": f"{sandbox}/mtn",
            "AIRTELTIGO_BASE_URL": f"{sandbox}/airteltigo",
            "TELECEL_BASE_URL": f"{sandbox}/telecel",
            "PUBLIC_BASE_URL": public,
            "LOG_LEVEL": "WARNING",
        }
    )


def _quiet_logs() -> None:
    """structlog as the worker configures it in the lifecycle bench (JSON, WARNING and up)."""
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


async def drive(
    sandbox: str,
    sink: str,
    sandbox_pid: int,
    *,
    rounds: int,
    concurrency: int,
    warmup: int,
    http: str,
    repeat: int,
) -> list[Phase]:
    """Warm up, then `repeat` measured rounds per provider; each phase's medians."""
    settings = _settings(sandbox, sink)
    timeout = httpx.Timeout(settings.provider_timeout_seconds, connect=5.0)
    async with contextlib.AsyncExitStack() as stack:
        # The sink and sandbox (uvicorn) close connections idle for 5 s; httpx could still
        # pick one of those for a poll (ReadError), so the admin client keeps them 2 s.
        admin = await stack.enter_async_context(
            httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=2.0))
        )
        if http == "shared":
            # As bootstrap builds it behind an HTTPS proxy.
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
            shared = await stack.enter_async_context(
                httpx.AsyncClient(timeout=timeout, limits=limits)
            )
            gateway = build_gateway(settings, shared)
        else:
            clients = {
                provider: await stack.enter_async_context(
                    provider_http_client(timeout, concurrency=concurrency)
                )
                for provider in ProviderId
            }
            gateway = build_gateway(settings, clients)
        # Airtel registers the callback URL per application, not per request.
        answer = await admin.put(
            f"{sandbox}/airteltigo/_admin/config",
            json={"options": {"callback_url": f"{sink}/api/v1/callbacks/airteltigo"}},
        )
        answer.raise_for_status()
        seen = [int((await admin.get(f"{sink}/_count")).text)]

        async def callbacks(count: int) -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                now = int((await admin.get(f"{sink}/_count")).text)
                if now - seen[0] >= count:
                    seen[0] = now
                    return
                await anyio.sleep(0.01)
            raise SystemExit(f"callbacks: {now - seen[0]} of {count} within 30 s")

        phases: list[Phase] = []
        first = 0
        runs = [(False, warmup)] + [(True, rounds)] * repeat
        for measured, count in runs:
            for provider in ProviderId:
                done = await _round(
                    gateway,
                    provider,
                    first=first,
                    count=count,
                    concurrency=concurrency,
                    sandbox_pid=sandbox_pid,
                    callbacks=callbacks,
                    callback_base=f"{sink}/api/v1/callbacks",
                )
                first += count
                if measured:
                    phases.extend(done)
    return [_median(phases, provider, kind) for provider in ProviderId for kind in _KINDS]


def _median(phases: Sequence[Phase], provider: ProviderId, kind: str) -> Phase:
    """One phase from its repeats: the median of each measure (others' load on this box
    only ever adds CPU time, in bursts)."""
    mine = [p for p in phases if p.provider is provider and p.kind == kind]
    return Phase(
        provider,
        kind,
        mine[0].calls,
        statistics.median(p.seconds for p in mine),
        statistics.median(p.client_cpu_s for p in mine),
        statistics.median(p.sandbox_cpu_s for p in mine),
    )


def report(phases: Sequence[Phase]) -> None:
    """A table per provider and kind, then the summary line."""
    print(
        f"{'provider':<11} {'kind':<7} {'calls':>6} {'calls/s':>8} {'client us':>10} {'sandbox us':>11}"
    )
    for p in phases:
        rate = p.calls / max(p.seconds, 1e-9)
        print(
            f"{p.provider.value:<11} {p.kind:<7} {p.calls:>6} {rate:>8.0f} "
            f"{p.client_us:>10.0f} {p.sandbox_us:>11.0f}"
        )
    for provider in ProviderId:
        mine = [p for p in phases if p.provider is provider]
        calls = sum(p.calls for p in mine)
        client = sum(p.client_cpu_s for p in mine) * 1e6 / max(calls, 1)
        sandbox = sum(p.sandbox_cpu_s for p in mine) * 1e6 / max(calls, 1)
        print(
            f"{provider.value:<11} {'all':<7} {calls:>6} {'':>8} {client:>10.0f} {sandbox:>11.0f}"
        )
    for kind in _KINDS:
        mine = [p for p in phases if p.kind == kind]
        calls = sum(p.calls for p in mine)
        client = sum(p.client_cpu_s for p in mine) * 1e6 / max(calls, 1)
        sandbox = sum(p.sandbox_cpu_s for p in mine) * 1e6 / max(calls, 1)
        print(f"{'all':<11} {kind:<7} {calls:>6} {'':>8} {client:>10.0f} {sandbox:>11.0f}")
    calls = sum(p.calls for p in phases)
    seconds = sum(p.seconds for p in phases)
    client = sum(p.client_cpu_s for p in phases) * 1e6 / max(calls, 1)
    sandbox = sum(p.sandbox_cpu_s for p in phases) * 1e6 / max(calls, 1)
    print(
        f"provider_calls_per_s={calls / max(seconds, 1e-9):.0f} "
        f"client_cpu_us_per_call={client:.0f} sandbox_cpu_us_per_call={sandbox:.0f}"
    )


def main() -> None:
    """Run the benchmark (or, with a hidden flag, one of its server processes)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500, help="calls per provider and kind")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls first")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds; medians reported")
    parser.add_argument(
        "--http",
        choices=("shared", "per-provider"),
        default="per-provider",
        help="per-provider: provider_http_client() per provider, as bootstrap builds them; "
        "shared: one plain AsyncClient for all providers (bootstrap's fallback behind a proxy)",
    )
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox)
        return
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return

    _quiet_logs()
    logs = Path(tempfile.mkdtemp(prefix="synccash-bench-providers-"))
    sandbox_port, sink_port = free_port(), free_port()
    sandbox_url, sink_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{sink_port}"
    sandbox = _spawn("--serve-sandbox", sandbox_port, logs / "sandbox.log")
    sink = _spawn("--serve-sink", sink_port, logs / "sink.log")
    try:
        wait_http(f"{sandbox_url}/mtn/_admin/config", sandbox)
        wait_http(f"{sink_url}/_count", sink)
        phases = asyncio.run(
            drive(
                sandbox_url,
                sink_url,
                sandbox.pid,
                rounds=args.rounds,
                concurrency=args.concurrency,
                warmup=args.warmup,
                http=args.http,
                repeat=max(1, args.repeat),
            )
        )
    finally:
        for process in (sandbox, sink):
            stop(process, timeout=10)
    print(f"load average {load_average()} ({os.cpu_count()} cores)")
    print(
        f"http clients: {args.http}; concurrency {args.concurrency}; "
        f"medians of {max(1, args.repeat)} rounds of {args.rounds} calls per provider and kind"
    )
    report(phases)


if __name__ == "__main__":
    main()
