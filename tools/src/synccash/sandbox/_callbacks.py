"""How a sandbox that owns its HTTP client delivers callbacks: plain HTTP/1.1 keep-alive POSTs.

A callback is one small request whose answer nobody reads, sent once per
settled attempt. Through httpx it cost the served sandbox more CPU than
answering the submit that caused it (URL model, cookie jar, pool bookkeeping
over AnyIO streams). This sender writes the request itself on pooled asyncio
connections and lets h11 (httpx's own HTTP/1.1 engine) parse the answer, so
keep-alive, chunked answers and ``Connection: close`` follow the protocol.
``https`` URLs and injected clients (embedded mode, tests) still go through httpx.

A pooled connection is checked before reuse: closed by the merchant, readable
(its FIN may be in the socket before the event loop has seen it) or idle for
longer than a merchant server is likely to keep it (uvicorn: 5 s) means a new
connection. If a reused connection still turns out closed before any byte of an
answer came back, the callback is sent once more on a new connection (the
merchant may then see it twice, as a provider's own retries would make it).

On the wire a callback is what httpx sent: the provider's headers, plus
``Host``, httpx's default ``Accept``/``Accept-Encoding``/``Connection``/``User-Agent``
when the provider sets none, and ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import h11
import httpx

#: httpx's own defaults, so a callback's headers do not change with the sender.
_DEFAULTS: Final = (
    ("accept", "*/*"),
    ("accept-encoding", "gzip, deflate"),
    ("connection", "keep-alive"),
    ("user-agent", f"python-httpx/{httpx.__version__}"),
)
_READ: Final = 65536
#: Idle connections older than this are not reused (uvicorn closes them after 5 s).
_IDLE_SECONDS: Final = 4.0


class _Stale(Exception):
    """Internal: a reused connection was closed before any byte of the answer."""


class _Connection:
    """One keep-alive connection to an origin and its h11 state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False
        self.idle_since = 0.0
        self._poller = select.poll()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            self._poller.register(sock.fileno(), select.POLLIN)

    @property
    def usable(self) -> bool:
        """Still open, not closed by the server while it sat idle, not idle for too long."""
        if self.reader.at_eof() or self.writer.is_closing():
            return False
        if time.monotonic() - self.idle_since > _IDLE_SECONDS:
            return False
        # Anything readable on an idle connection is the server's FIN (or junk).
        return not self._poller.poll(0)

    def close(self) -> None:
        self.writer.close()


class CallbackSender:
    """Sends callbacks over plain HTTP, keeping up to `keep` idle connections per origin."""

    def __init__(self, *, timeout: float = 10.0, keep: int = 32) -> None:
        self._timeout = timeout
        self._keep = keep
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    @staticmethod
    def handles(url: str) -> bool:
        """True for plain ``http://`` URLs (the rest goes through httpx)."""
        return url[:7].lower() == "http://"

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """Deliver one request; its status code. Raises on any transport or protocol failure."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        async with asyncio.timeout(self._timeout):
            for fresh in (False, True):
                connection = await self._acquire(host, port, fresh=fresh)
                try:
                    status = await self._exchange(
                        connection, method, target, parts.netloc, headers, body
                    )
                except _Stale:
                    connection.close()
                    continue
                except BaseException:
                    connection.close()
                    raise
                break
        self._release((host, port), connection)
        return status

    async def _acquire(self, host: str, port: int, *, fresh: bool) -> _Connection:
        idle = self._idle.get((host, port))
        while idle and not fresh:
            connection = idle.pop()
            if connection.usable:
                connection.reused = True
                return connection
            connection.close()
        reader, writer = await asyncio.open_connection(host, port, limit=_READ)
        return _Connection(reader, writer)

    def _release(self, origin: tuple[str, int], connection: _Connection) -> None:
        state = connection.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._keep and not connection.writer.is_closing():
                connection.idle_since = time.monotonic()
                idle.append(connection)
                return
        connection.close()

    @staticmethod
    async def _exchange(  # noqa: PLR0917 - one request's parts, as h11 needs them
        connection: _Connection,
        method: str,
        target: str,
        netloc: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> int:
        given = {name.lower() for name in headers}
        fields = [("host", netloc)]
        fields += [(name, value) for name, value in _DEFAULTS if name not in given]
        fields += [(name, value) for name, value in headers.items() if name.lower() != "host"]
        if body or method in ("POST", "PUT", "PATCH"):
            fields.append(("content-length", str(len(body))))
        state = connection.h11
        data = state.send(h11.Request(method=method, target=target, headers=fields))
        if body:
            data += state.send(h11.Data(data=body))
        data += state.send(h11.EndOfMessage())
        connection.writer.write(data)
        await connection.writer.drain()
        status = 0
        answered = False
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await connection.reader.read(_READ)
                except ConnectionError:
                    if not answered and connection.reused:
                        raise _Stale from None
                    raise
                if not data and not answered and connection.reused:
                    raise _Stale
                answered = True
                state.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("callback endpoint closed the connection")

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
                with contextlib.suppress(Exception):
                    await connection.writer.wait_closed()
        self._idle.clear()
