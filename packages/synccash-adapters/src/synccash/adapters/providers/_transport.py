# ruff: noqa: ASYNC109  # httpcore's network-backend interface takes `timeout` arguments
"""The HTTP client the composition root gives the provider clients.

httpx's connection pool checks every pooled connection on every request and
every response close (`has_expired`, twice per call), and httpcore's AnyIO
stream answers each check by rebuilding AnyIO's whole socket-attribute table
(a `getpeername` system call and a dict of closures) just to find the socket.
At 16 concurrent calls that was ~20% of a provider call's CPU. The network
backend here remembers each connection's socket once; everything else (the
pool, h11, TLS, timeouts, exception mapping) is httpx/httpcore's own.

The client itself is what the provider APIs need: no proxies or `.netrc` from
the environment (the transport's TLS context is httpx's default, certifi's CAs,
whatever SSL_CERT_FILE says; httpx never applies environment proxies to a custom
transport, so bootstrap falls back to a plain client when HTTPS_PROXY is set),
no redirects followed (a provider that
redirects a payment is misconfigured, not to be chased), and a pool sized to
the calls in flight so idle connections are kept for reuse but not hoarded.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class _SocketCachingStream(httpcore.AsyncNetworkStream):
    """A network stream whose `socket` (and `is_readable`) lookups cost no system call setup."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _SocketCachingStream(
            await self._inner.start_tls(ssl_context, server_hostname, timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":
            # httpcore's own test: an idle keep-alive socket that is readable was closed
            # by the server (it can only be about to return b"").
            sock = self._socket
            if sock is None or sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return self._inner.get_extra_info(info)


class _SocketCachingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend with socket-caching streams."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _SocketCachingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _SocketCachingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class ProviderTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP transport over the socket-caching backend (same pool, same errors)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx builds its pool without a way to pass a network backend; this is the
        # same pool with the same settings (TLS context from httpx's defaults) and ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context,  # noqa: SLF001 - see above
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_SocketCachingBackend(),
        )


def provider_http_client(
    timeout: httpx.Timeout, *, concurrency: int, trust_env: bool = False
) -> httpx.AsyncClient:
    """An AsyncClient for one provider's API, keeping `concurrency` idle connections for reuse.

    Give each provider its own (`build_gateway` takes a mapping): a pool only
    scans its own connections. No cap on connections, as before: a payment call
    never queues behind others. Close it with the rest of the composition root.
    With `trust_env`, HTTPS_PROXY / SSL_CERT_FILE from the environment apply (requests
    to a proxied host then go through httpx's own proxy transport).
    """
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=max(1, concurrency))
    return httpx.AsyncClient(
        transport=ProviderTransport(limits),
        timeout=timeout,
        trust_env=trust_env,
        follow_redirects=False,
    )
