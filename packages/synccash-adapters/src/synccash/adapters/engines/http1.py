# ruff: noqa: ASYNC109  # timeouts are event-loop timers here (asyncio.timeout costs a task-aware scope)
"""Engine: the HTTP/1.1 client the composition root gives the provider clients.

Replaces: httpx's default transport (httpcore) under the provider clients.
Why: client CPU per provider call 2,124-2,295 us -> 566-695 us, sandbox CPU per call
576-636 -> 411-484 us (commit 617e5b8, `python -m synccash.bench.providers --rounds 500
--repeat 3`); httptools parsing took h11's ~10% of the worker's CPU out (5a43392).
Switch off: ENGINE_PROVIDER_HTTP=httpx (plain `httpx.AsyncClient`s; an HTTPS proxy in the
environment does the same by itself). `FastHttpClient` is the client class; the providers'
port is `synccash.adapters.providers.ProviderClient`, a different thing.

A provider call through httpx's default transport cost the worker about five
times the CPU of the exchange itself: httpcore scans its whole pool twice per
call (`has_expired`, a `poll` per pooled socket), wraps every read and write in
an AnyIO cancel scope, and writes the request head and body in two socket
writes (on this kind of VM each loopback write that wakes the provider costs
tens of microseconds). `ProviderTransport` speaks HTTP/1.1 itself:

* the request's bytes are built here, exactly as h11 (httpcore's own HTTP/1.1
  library) writes them and with h11's checks (header names and methods are
  tokens, values and target carry no CR/LF/NUL: no header injection; Host,
  Content-Length and Transfer-Encoding as h11 has them), refusing with
  httpx.LocalProtocolError before anything is written; the whole request, head
  and body, goes out in ONE write on an asyncio transport;
* answers are parsed by httptools (llhttp, in C): status, headers, and a body
  framed by Content-Length or chunked. h11's pure-Python event machinery was
  ~10% of the worker's CPU (~50 us per request/response). Whatever h11 would
  treat differently goes to h11 itself: HEAD, CONNECT and Upgrade requests are
  h11 exchanges from the start; an answer that httptools refuses, a 1xx, 204 or
  304, a Transfer-Encoding other than plain `chunked`, a head past 64 KiB, or a
  connection that ends before the answer does (close-delimited bodies, server
  disconnects) is re-read from its first byte by an h11 connection that has
  "sent" the same request, so the answer, or the error and its class, is h11's.
  (One difference kept: an empty line right after a complete answer, which
  llhttp skips, no longer retires the connection.)
* a per-origin keep-alive pool: the most recently used idle connection is
  reused; one that the server closed (or sent anything on) while idle, or that
  idled past `keepalive_expiry`, is dropped *before* anything is written on
  it, and that is the only case a request moves to another connection. A
  request is never re-sent once a byte of it was written;
* timeouts from `request.extensions["timeout"]` (connect, read, write, pool) as
  plain event-loop timers, no cancel scopes;
* failures raise the httpx exceptions httpx's own transport raises for them, so
  the clients classify them as before (`_http.transport_outcome`): before
  anything was sent -> ConnectError, ConnectTimeout (TCP or TLS), PoolTimeout;
  after -> WriteTimeout, ReadTimeout, ReadError, WriteError, RemoteProtocolError
  (e.g. "Server disconnected without sending a response.");
* the response body is read whole before the response is returned (the
  provider APIs answer small JSON documents), so the connection is back in the
  pool as soon as the answer is in.

`FastHttpClient` is an `httpx.AsyncClient` whose `request()` (and so `get`,
`post`, ...) takes a short path for the plain calls the provider clients make:
the request is built once with the client's headers, base URL and timeout,
handed to the transport, and the response gets what `send()` gives it
(request, elapsed, cookies from Set-Cookie, redirect `next_request`), without
httpx's auth, redirect and event-hook layers, which a provider client does not
use (no client auth, no hooks, redirects never followed). Anything else (auth,
cookies or extensions on the call, cookies already in the client's jar, data/
json/files bodies, URL credentials, streaming, hooks) goes through httpx's
normal path over the same transport.

The client is what the provider APIs need: no proxies or `.netrc` from the
environment (httpx never applies environment proxies to a custom transport,
so bootstrap falls back to a plain client when HTTPS_PROXY / ALL_PROXY is set),
TLS with certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR when `trust_env` is on
(as httpx's own default transport), no redirects followed (a provider that
redirects a payment is misconfigured, not to be chased), and idle connections
kept for reuse up to the calls in flight, not hoarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import select
import ssl
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, cast

import h11
import httptools
import httpx
from httpx._client import ClientState  # the state `send()` keeps; see FastHttpClient.request

_log: Final = logging.getLogger("httpx")
_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}
#: Headers that make `FastHttpClient` leave a request to httpx's `build_request`.
_FRAMING: Final = frozenset({b"host", b"content-length", b"transfer-encoding"})
#: Methods httpx gives `Content-Length: 0` when they carry no body.
_SIZED: Final = frozenset({"POST", "PUT", "PATCH"})
#: The largest response head accepted (h11's default is 16 KiB).
_MAX_HEAD: Final = 64 * 1024
#: What h11 enforces on the requests it writes (h11._abnf): names and methods are tokens,
#: values are visible characters (or obs-text) separated by spaces/tabs, the target is
#: visible ASCII. No CR, LF or NUL can get through any of them.
_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE: Final = re.compile(rb"([^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_TARGET: Final = re.compile(rb"[\x21-\x7e]+")
_CONTENT_LENGTH: Final = re.compile(rb"[0-9]+")
#: Requests whose answer h11 frames by the request (HEAD: no body) or that may switch
#: protocols (CONNECT, Upgrade): h11 does the whole exchange, as before.
_H11_METHODS: Final = frozenset({b"HEAD", b"CONNECT"})
_VERSIONS: Final = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}
_PARSER_ERRORS: Final = (httptools.HttpParserError, httptools.HttpParserUpgrade)


class _TimedOut(Exception):
    """Internal: a wait hit its timer."""


class _UseH11(Exception):
    """Internal: an answer httptools would frame differently from h11 (1xx, 204, 304,
    a Transfer-Encoding other than plain `chunked`), or bytes after the answer."""


def _request_bytes(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[bytes, bool, bool]:
    """The request's bytes as h11 writes them (same checks, same messages: h11's
    `LocalProtocolError`), whether the connection stays open after the exchange, and
    whether the request proposes a protocol switch (an Upgrade header).

    Header names must be tokens and values field-values (no CR/LF/NUL), a single
    Host, a valid method and target; Content-Length is de-duplicated and must match
    the body, Transfer-Encoding may only be `chunked` (the body is then chunk-framed);
    Host headers are written first."""
    hosts: list[bytes] = []
    lines: list[bytes] = []
    length: bytes | None = None
    chunked = False
    keep_alive = True
    upgrade = False
    for name, given in headers:
        value = given
        if _TOKEN.fullmatch(name) is None:
            raise h11.LocalProtocolError(f"Illegal header name {name!r}")
        if _FIELD_VALUE.fullmatch(value) is None:
            raise h11.LocalProtocolError(f"Illegal header value {value!r}")
        lower = name.lower()
        if lower == b"host":
            hosts.append(b"%s: %s\r\n" % (name, value))
            continue
        if lower == b"content-length":
            lengths = {part.strip() for part in value.split(b",")}
            if len(lengths) != 1:
                raise h11.LocalProtocolError("conflicting Content-Length headers")
            value = lengths.pop()
            if _CONTENT_LENGTH.fullmatch(value) is None or len(value) > 20:
                raise h11.LocalProtocolError("bad Content-Length")
            if length is not None:
                if length != value:
                    raise h11.LocalProtocolError("conflicting Content-Length headers")
                continue
            length = value
        elif lower == b"transfer-encoding":
            if chunked:
                raise h11.LocalProtocolError("multiple Transfer-Encoding headers")
            value = value.lower()
            if value != b"chunked":
                raise h11.LocalProtocolError("Only Transfer-Encoding: chunked is supported")
            chunked = True
        elif lower == b"connection" and b"close" in [
            part.strip() for part in value.lower().split(b",")
        ]:
            keep_alive = False
        elif lower == b"upgrade" and value.replace(b",", b"").strip():
            upgrade = True
        lines.append(b"%s: %s\r\n" % (name, value))
    verb = method.encode("ascii")  # as h11 does: UnicodeEncodeError, before the Host checks
    if not hosts:
        raise h11.LocalProtocolError("Missing mandatory Host: header")
    if len(hosts) > 1:
        raise h11.LocalProtocolError("Found multiple Host: headers")
    if _TOKEN.fullmatch(verb) is None:
        raise h11.LocalProtocolError("Illegal method characters")
    if _TARGET.fullmatch(target) is None:
        raise h11.LocalProtocolError("Illegal target characters")
    head = b"%s %s HTTP/1.1\r\n%s%s\r\n" % (verb, target, b"".join(hosts), b"".join(lines))
    if chunked:
        framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
        return head + framed, keep_alive, upgrade
    declared = 0 if length is None else int(length)
    if len(body) > declared:
        raise h11.LocalProtocolError("Too much data for declared Content-Length")
    if len(body) < declared:
        raise h11.LocalProtocolError("Too little data for declared Content-Length")
    return head + body, keep_alive, upgrade


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(_TimedOut())


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: an asyncio protocol feeding httptools (or h11), one
    request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[bytes, bytes, int]) -> None:
        self.key = key
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._poller: Any = None
        self._parser = httptools.HttpResponseParser(self)
        #: The h11 connection of an exchange h11 does (None: httptools parses).
        self._h11: h11.Connection | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._busy = False
        #: Set once the connection can no longer carry a request (EOF, error, stray data).
        self.broken = False
        self._lost: BaseException | None = None
        self._eof = False
        self._paused = False
        self.idle_since = 0.0
        # The answer being parsed by httptools.
        self._inbound: list[bytes] = []  # every byte received in this exchange
        self._head_size = 0
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._closing = False  # the answer says Connection: close
        self._complete = False
        self._fallback = False  # httptools gave up: h11 re-reads `_inbound`

    # --- asyncio protocol callbacks -------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport; uvloop's (the API under uvicorn) does not subclass asyncio's
        # ABCs, so no isinstance check: it has every method used here
        self._transport = cast("asyncio.Transport", transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            self._poller = poller

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            # Nothing is due on an idle connection: a 408 before a close, garbage, ...
            self.broken = True
            return
        h11c = self._h11
        if h11c is not None:
            try:
                h11c.receive_data(data)
            except RuntimeError:  # after EOF; the reader sees the state
                self.broken = True
            self._wake()
            return
        if self._complete:  # bytes after the answer: do not trust the connection
            self.broken = True
            return
        self._inbound.append(data)
        if self._fallback:
            return
        try:
            self._parser.feed_data(data)
        except _PARSER_ERRORS:
            if self._complete:
                self.broken = True  # a second answer or garbage behind the first
            else:
                self._fallback = True
            self._wake()
            return
        if self._complete:
            self._wake()
        elif not self._headers_done:
            self._head_size += len(data)
            if self._head_size > _MAX_HEAD:  # h11 decides (it refuses a head this long)
                self._fallback = True
                self._wake()

    def eof_received(self) -> bool:
        self.broken = True
        self._feed_eof()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        if exc is None:
            self._feed_eof()  # a TLS transport may report the close only here
        else:
            self._lost = exc
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _feed_eof(self) -> None:
        if self._busy and not self._eof:
            self._eof = True
            if self._h11 is not None:
                with contextlib.suppress(RuntimeError):
                    self._h11.receive_data(b"")
            self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- httptools callbacks (the answer to the request in flight) -------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise _UseH11  # a second message behind the answer: stop parsing

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._headers_done:
            return  # chunked trailers: not part of the answer's headers (as with h11)
        size = len(name)
        if size == 10 and name.lower() == b"connection":
            if b"close" in [part.strip() for part in value.lower().split(b",")]:
                self._closing = True
        elif size == 17 and value != b"chunked" and name.lower() == b"transfer-encoding":
            raise _UseH11  # h11 normalises or refuses it
        self._headers.append((name, value.rstrip(b" \t")))  # llhttp keeps trailing OWS

    def on_headers_complete(self) -> None:
        self._headers_done = True
        status = self._parser.get_status_code()
        if status < 200 or status in {204, 304}:
            raise _UseH11  # informational answers, bodies framed by the status: h11

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete = True

    # --- use ----------------------------------------------------------------

    def reusable(self, now: float, expiry: float | None) -> bool:
        """Whether an idle connection may carry the next request (checked before writing)."""
        if self.broken or self._transport is None or self._transport.is_closing():
            return False
        if expiry is not None and now - self.idle_since > expiry:
            return False
        # The server's FIN (or anything) may be in the socket but not yet seen by the loop.
        return not (self._poller is not None and self._poller.poll(0))

    def close(self) -> None:
        self.broken = True
        if self._transport is not None:
            self._transport.close()

    async def _wait(self, future: asyncio.Future[None], timeout: float | None) -> None:
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()

    def _reset(self) -> None:
        self._inbound = []
        self._head_size = 0
        self._reason = b""
        self._headers = []
        self._body = []
        self._headers_done = False
        self._closing = False
        self._complete = False
        self._fallback = False

    async def exchange(
        self, request: httpx.Request, body: bytes, timeouts: Mapping[str, float | None]
    ) -> httpx.Response:
        """Send the request in one write and read the whole response; the caller closes the
        connection on any exception (its state is then unknown)."""
        transport = self._transport
        assert transport is not None  # noqa: S101 - connected before use
        self._busy = True
        self._reset()
        try:
            data, keep_alive, upgrade = _request_bytes(
                request.method, request.url.raw_path, request.headers.raw, body
            )
            if upgrade or data[: data.index(b" ")] in _H11_METHODS:
                h11c = self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
                data = (
                    h11c.send(
                        h11.Request(
                            method=request.method,
                            target=request.url.raw_path,
                            headers=request.headers.raw,
                        )
                    )
                    or b""
                )
                if body:
                    data += h11c.send(h11.Data(data=body)) or b""
                data += h11c.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        if self.broken or transport.is_closing():
            raise httpx.WriteError("connection closed before the request", request=request)
        transport.write(data)
        if self._paused and not self.broken:
            self._drain = self._loop.create_future()
            try:
                await self._wait(self._drain, timeouts.get("write"))
            except _TimedOut:
                raise httpx.WriteTimeout("write timed out", request=request) from None
            finally:
                self._drain = None
        read_timeout = timeouts.get("read")
        while self._h11 is None and not self._complete:
            if self._fallback or self.broken:
                # httptools refused the answer, or the connection ended before its end
                # (EOF-framed body, disconnect): h11 reads what came, as it always did.
                self._h11 = self._h11_replay(request, body)
                break
            self._waiter = self._loop.create_future()
            try:
                await self._wait(self._waiter, read_timeout)
            except _TimedOut:
                raise httpx.ReadTimeout("read timed out", request=request) from None
            finally:
                self._waiter = None
        if self._h11 is not None:
            return await self._read_h11(request, read_timeout)
        self._busy = False
        parser = self._parser
        version = parser.get_http_version()
        if self._closing or version < "1.1" or not keep_alive:  # h11's rule
            self.broken = True
        elif not parser.should_keep_alive():
            self._parser = httptools.HttpResponseParser(self)
        return httpx.Response(
            status_code=parser.get_status_code(),
            headers=self._headers,
            stream=httpx.ByteStream(b"".join(self._body)),
            extensions={
                "http_version": _VERSIONS.get(version) or b"HTTP/" + version.encode(),
                "reason_phrase": self._reason,
            },
        )

    def _h11_sent(self, request: httpx.Request, body: bytes) -> h11.Connection:
        """An h11 client connection that has sent `request` (its bytes are discarded)."""
        h11c = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        h11c.send(
            h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        )
        if body:
            h11c.send(h11.Data(data=body))
        h11c.send(h11.EndOfMessage())
        return h11c

    def _h11_replay(self, request: httpx.Request, body: bytes) -> h11.Connection:
        try:
            h11c = self._h11_sent(request, body)
        except h11.LocalProtocolError as exc:  # not expected: the same checks passed
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        h11c.receive_data(b"".join(self._inbound))
        if self._eof:
            h11c.receive_data(b"")
        self._inbound = []
        return h11c

    async def _read_h11(self, request: httpx.Request, read_timeout: float | None) -> httpx.Response:
        """The rest of the exchange with h11 (HEAD, CONNECT, Upgrade, or httptools gave up)."""
        h11c = self._h11
        assert h11c is not None  # noqa: S101 - set by the caller
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            try:
                event = h11c.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                if self.broken:
                    if self._lost is not None:
                        raise httpx.ReadError(str(self._lost), request=request)
                    if h11c.their_state is h11.SEND_RESPONSE:
                        raise httpx.RemoteProtocolError(
                            "Server disconnected without sending a response.", request=request
                        )
                    raise httpx.RemoteProtocolError(
                        "Server disconnected mid-response.", request=request
                    )
                self._waiter = self._loop.create_future()
                try:
                    await self._wait(self._waiter, read_timeout)
                except _TimedOut:
                    raise httpx.ReadTimeout("read timed out", request=request) from None
                finally:
                    self._waiter = None
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            # h11.InformationalResponse (100 Continue, ...): skipped, as httpcore does.
        assert response is not None  # noqa: S101 - EndOfMessage follows a Response
        self._busy = False
        if h11c.our_state is h11.DONE and h11c.their_state is h11.DONE and not self.broken:
            h11c.start_next_cycle()
            if h11c.trailing_data[0]:
                self.broken = True  # more than one response's worth: do not trust it
        else:
            self.broken = True
        if not self.broken:  # the next exchange starts with httptools again
            self._h11 = None
            self._parser = httptools.HttpResponseParser(self)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers.raw_items(),
            stream=httpx.ByteStream(b"".join(chunks)),
            extensions={
                "http_version": b"HTTP/" + response.http_version,
                "reason_phrase": response.reason,
            },
        )


class ProviderTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with a keep-alive pool; see the module docstring.

    `limits.max_connections` caps open connections (None: no cap; a request
    waits up to the pool timeout for one, then PoolTimeout);
    `limits.max_keepalive_connections` caps idle ones, `keepalive_expiry` how
    long one stays idle.
    """

    def __init__(self, limits: httpx.Limits, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max = limits.max_connections
        self._max_idle = (
            limits.max_keepalive_connections
            if limits.max_keepalive_connections is not None
            else (limits.max_connections or 1 << 30)
        )
        self._expiry = limits.keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[tuple[bytes, bytes, int], deque[_Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=False)
        return self._ssl

    # --- pool ---------------------------------------------------------------

    def _take_idle(self, key: tuple[bytes, bytes, int], now: float) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if conn.reusable(now, self._expiry):
                return conn
            self._drop(conn)
        return None

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _close_another_idle(self) -> bool:
        """At the cap: close the longest-idle connection (of any origin) to make room."""
        oldest: deque[_Connection] | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest[0].idle_since):
                oldest = idle
        if oldest is None:
            return False
        self._idle_count -= 1
        self._drop(oldest.popleft())
        return True

    async def _acquire(
        self,
        key: tuple[bytes, bytes, int],
        loop: asyncio.AbstractEventLoop,
        request: httpx.Request,
        pool_timeout: float | None,
    ) -> _Connection | None:
        """An idle connection to reuse, or None with a slot reserved for a new one."""
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            if self._closed:
                raise RuntimeError("the provider transport is closed")
            now = loop.time()
            conn = self._take_idle(key, now)
            if conn is not None:
                return conn
            if self._max is None or self._open < self._max:
                self._open += 1
                return None
            if self._close_another_idle():
                continue
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            remaining = None if deadline is None else max(0.0, deadline - now)
            timer = None if remaining is None else loop.call_later(remaining, _expire, waiter)
            try:
                await waiter
            except _TimedOut:
                raise httpx.PoolTimeout(
                    "no connection within the pool timeout", request=request
                ) from None
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake_one()  # we were handed a slot we will not use
                raise
            finally:
                if timer is not None:
                    timer.cancel()

    def _release(self, conn: _Connection, now: float) -> None:
        if conn.broken or self._closed or self._idle_count >= self._max_idle:
            self._drop(conn)
            return
        conn.idle_since = now
        self._idle.setdefault(conn.key, deque()).append(conn)
        self._idle_count += 1
        self._wake_one()

    async def _connect(
        self,
        key: tuple[bytes, bytes, int],
        loop: asyncio.AbstractEventLoop,
        request: httpx.Request,
        timeout: float | None,
    ) -> _Connection:
        scheme, host, port = key
        conn = _Connection(loop, key)
        tls = scheme == b"https"
        hostname = host.decode("ascii")
        try:
            opening = loop.create_connection(
                lambda: conn,
                hostname,
                port,
                ssl=self._ssl_context() if tls else None,
                server_hostname=hostname if tls else None,
            )
            await asyncio.wait_for(opening, timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout("connect timed out", request=request) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake/verification
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from None
        return conn

    # --- transport ------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode()}://'.",
                request=request,
            )
        port = url.port or _DEFAULT_PORTS[scheme]
        key = (scheme, url.raw_host, port)
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        loop = asyncio.get_running_loop()
        conn = await self._acquire(key, loop, request, timeouts.get("pool"))
        if conn is None:
            try:
                conn = await self._connect(key, loop, request, timeouts.get("connect"))
            except BaseException:
                self._open -= 1
                self._wake_one()
                raise
        try:
            response = await conn.exchange(request, body, timeouts)
        except BaseException:
            self._drop(conn)
            raise
        self._release(conn, loop.time())
        return response

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                self._drop(idle.pop())
        self._idle_count = 0
        self._idle.clear()


class FastHttpClient(httpx.AsyncClient):
    """An AsyncClient with a short path for plain calls (see the module docstring)."""

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        cookies: Any = None,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        extensions: Any = None,
    ) -> httpx.Response:
        if (
            data is not None
            or files is not None
            or json is not None
            or cookies is not None
            or extensions is not None
            or auth is not httpx.USE_CLIENT_DEFAULT
            or follow_redirects is True
            or (follow_redirects is httpx.USE_CLIENT_DEFAULT and self.follow_redirects)
            or not isinstance(content, bytes | None)
            or self.auth is not None
            or self.cookies
            or self.event_hooks["request"]
            or self.event_hooks["response"]
            or self.is_closed
        ):
            return await super().request(
                method,
                url,
                content=content,
                data=data,
                files=files,
                json=json,
                params=params,
                headers=headers,
                cookies=cookies,
                auth=auth,
                follow_redirects=follow_redirects,
                timeout=timeout,
                extensions=extensions,
            )
        request = (
            None
            if params is not None
            else self._plain_request(method, url, content, headers, timeout)
        )
        if request is None:
            request = self.build_request(
                method, url, content=content, params=params, headers=headers, timeout=timeout
            )
        if request.url.username or request.url.password:
            # httpx turns URL credentials into Basic auth: its own path.
            return await self.send(request, follow_redirects=False)
        self._state = ClientState.OPENED
        start = time.perf_counter()
        response = await self._transport_for_url(request.url).handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            response.elapsed = dt.timedelta(seconds=time.perf_counter() - start)
            await response.aclose()
        if "set-cookie" in response.headers:
            self.cookies.extract_cookies(response)
        response.default_encoding = self._default_encoding
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        response.history = []
        if response.has_redirect_location:
            response.next_request = self._build_redirect_request(request, response)
        return response

    def _plain_request(
        self, method: str, url: httpx.URL | str, content: bytes | None, headers: Any, timeout: Any
    ) -> httpx.Request | None:
        """`build_request` for a call with bytes (or no) content and a dict of headers, in
        one pass over the headers; None when anything else is involved (query parameters,
        framing or Host headers given by hand) and `build_request` must do it.

        The headers come out exactly as httpx orders them: Host (and Content-Length: 0 for a
        bodiless POST/PUT/PATCH), the client's headers the call does not override, the
        call's headers, then the body's Content-Length (a test compares the bytes)."""
        if self.params or not isinstance(headers, dict | None):
            return None
        given = headers or {}
        names = {name.lower() for name in given}
        defaults = self.headers.raw
        for name, _ in defaults:
            if name.lower() in _FRAMING:
                return None
        if "host" in names:
            return None
        merged_url = self._merge_url(url)
        if not merged_url.host:
            return None
        body = content or b""
        framed = "content-length" in names or "transfer-encoding" in names
        items: list[tuple[bytes, bytes]] = [(b"Host", merged_url.netloc)]
        method = method.upper()
        if not framed and not body and method in _SIZED:
            items.append((b"Content-Length", b"0"))
        items.extend(item for item in defaults if item[0].decode("latin-1").lower() not in names)
        for name, value in given.items():
            if not isinstance(name, str) or not isinstance(value, str):
                return None
            # As httpx.Headers encodes them (ASCII, UnicodeEncodeError otherwise).
            items.append((name.encode("ascii"), value.encode("ascii")))
        if body and "content-length" not in names:
            items.append((b"Content-Length", str(len(body)).encode()))
        limits = self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
        request = httpx.Request(
            method,
            merged_url,
            headers=httpx.Headers(items),
            stream=httpx.ByteStream(body),
            extensions={"timeout": limits.as_dict()},
        )
        request.read()
        return request


def provider_http_client(
    timeout: httpx.Timeout, *, concurrency: int, trust_env: bool = False
) -> httpx.AsyncClient:
    """An AsyncClient for one provider's API, keeping `concurrency` idle connections for reuse.

    Give each provider its own (`build_gateway` takes a mapping): a pool only
    scans its own connections. No cap on connections, as before: a payment call
    never queues behind others. Close it with the rest of the composition root.
    With `trust_env`, SSL_CERT_FILE / SSL_CERT_DIR choose the CAs (proxies never
    apply to this transport: see the module docstring).
    """
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=max(1, concurrency))
    return FastHttpClient(
        transport=ProviderTransport(
            limits, ssl_context=httpx.create_ssl_context(trust_env=trust_env)
        ),
        timeout=timeout,
        trust_env=trust_env,
        follow_redirects=False,
    )
