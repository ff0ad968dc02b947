"""ProviderTransport / FastHttpClient on the wire, against real local servers (no mocks).

What the provider clients' money-safety classification relies on: a failure
before anything was sent raises ConnectError/ConnectTimeout/PoolTimeout, one
after raises ReadTimeout/RemoteProtocolError/ReadError; a request goes out in
one write; a pooled connection the server closed is never written to; the
requests the servers see are the ones plain httpx sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from synccash.adapters.engines.http1 import FastHttpClient
from synccash.adapters.providers import ProviderTransport, provider_http_client
from synccash.adapters.providers._http import transport_outcome
from synccash.adapters.providers._table import Operation
from synccash.core.outcomes import OutcomeKind

pytestmark = [pytest.mark.integration]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{}         "


@contextlib.asynccontextmanager
async def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 running `handler` per connection; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (Content-Length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


def answering(*answers: bytes, then_close: bool = False) -> tuple[Handler, list[int]]:
    """A handler answering each request with the next of `answers` (the last one repeats);
    also returns the per-connection request counts."""
    counts: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(0)
        index = len(counts) - 1
        while True:
            await read_request(reader)
            n = sum(counts)
            counts[index] += 1
            writer.write(answers[min(n, len(answers) - 1)])
            await writer.drain()
            if then_close:
                return

    return handler, counts


def client(max_connections: int | None = None, timeout: float = 5.0, **kw: float) -> FastHttpClient:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=4)
    return FastHttpClient(transport=ProviderTransport(limits), timeout=httpx.Timeout(timeout, **kw))


async def test_a_chunked_response_is_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
    )
    handler, counts = answering(chunked, _OK)
    async with serve(handler) as url, client() as http:
        first = await http.post(f"{url}/pay", content=b"{}")
        second = await http.post(f"{url}/pay", content=b"{}")
    assert first.json() == {"a": 1}
    assert first.headers["transfer-encoding"] == "chunked"
    assert second.status_code == 200
    assert counts == [2]  # the connection stayed usable after a chunked answer


async def test_connection_close_is_honoured_and_the_next_call_opens_a_new_connection() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    handler, counts = answering(closing)
    async with serve(handler) as url, client() as http:
        for _ in range(3):
            assert (await http.get(f"{url}/status")).json() == {}
    assert counts == [1, 1, 1]


async def test_a_body_framed_by_the_close_is_read_to_the_end() -> None:
    old = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    handler, counts = answering(old, then_close=True)
    async with serve(handler) as url, client() as http:
        first = await http.get(f"{url}/a")
        second = await http.get(f"{url}/b")
    assert (first.text, first.http_version) == ("until the end", "HTTP/1.0")
    assert second.text == "until the end"
    assert counts == [1, 1]


async def test_the_request_head_and_body_go_out_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One transport write per request, holding head and body (httpx's own transport: two).

    The writes are counted on the event loop's socket transport, towards the server's port
    only (the server in this loop writes too); the bytes still travel over a real socket.
    """
    handler, counts = answering(_OK)
    body = b'{"amount":"12.50","note":"' + b"x" * 2000 + b'"}'
    writes: list[bytes] = []
    original = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    async with serve(handler) as url:
        port = httpx.URL(url).port

        def counting(self: asyncio.Transport, data: bytes) -> None:
            if self.get_extra_info("peername")[1] == port:
                writes.append(bytes(data))
            original(self, data)

        monkeypatch.setattr(
            asyncio.selector_events._SelectorSocketTransport,  # type: ignore[attr-defined]
            "write",
            counting,
        )
        async with client() as http:
            for _ in range(3):
                assert (await http.post(f"{url}/pay", content=body)).status_code == 200
    assert counts == [3]
    assert len(writes) == 3
    for data in writes:
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"POST /pay HTTP/1.1")
        assert rest == body


async def test_a_server_that_closes_after_the_request_is_an_unknown_outcome_on_submit() -> None:
    """Read the request, answer nothing, close: RemoteProtocolError, never a 'not sent'."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with serve(swallow) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.UNKNOWN
    assert transport_outcome(caught.value, Operation.STATUS).kind is OutcomeKind.TRANSIENT


async def test_a_response_cut_short_is_a_remote_protocol_error() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"par')
        await writer.drain()

    async with serve(cut) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(f"{url}/pay", content=b"{}")


async def test_a_reset_after_the_request_is_a_read_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # SO_LINGER 0: the close sends RST

    async with serve(reset) as url, client() as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.UNKNOWN


async def test_connect_timeout_is_a_connect_timeout() -> None:
    """An address that drops SYNs (TEST-NET-1): ConnectTimeout, classified 'not sent'."""
    async with client(timeout=5.0, connect=0.2) as http:
        with pytest.raises((httpx.ConnectTimeout, httpx.ConnectError)) as caught:
            await http.get("http://192.0.2.1:81/")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.TRANSIENT


async def test_calls_above_the_connection_cap_wait_for_a_connection() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(0)
        while True:
            await read_request(reader)
            counts[-1] += 1
            await asyncio.sleep(0.05)
            writer.write(_OK)
            await writer.drain()

    counts: list[int] = []
    async with serve(slow) as url, client(max_connections=1) as http:
        answers = await asyncio.gather(*(http.post(f"{url}/pay", content=b"{}") for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert counts == [4]  # one connection, the calls took turns


async def test_a_call_that_waits_past_the_pool_timeout_is_a_pool_timeout() -> None:
    release = asyncio.Event()

    async def stuck(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.write(_OK)
        await writer.drain()
        await read_request(reader)
        writer.write(_OK)
        await writer.drain()

    async with serve(stuck) as url, client(max_connections=1, pool=0.1) as http:
        first = asyncio.create_task(http.post(f"{url}/pay", content=b"{}"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout) as caught:
            await http.post(f"{url}/pay", content=b"{}")
        assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.TRANSIENT
        release.set()
        assert (await first).status_code == 200
        # The slot came back: the next call gets the (reused) connection.
        assert (await http.post(f"{url}/pay", content=b"{}")).status_code == 200


async def test_a_cancelled_call_gives_its_connection_slot_back() -> None:
    handler, _counts = answering(_OK)

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    async with serve(never) as slow_url, serve(handler) as url, client(max_connections=1) as http:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await http.get(f"{slow_url}/")
        assert (await http.get(f"{url}/")).status_code == 200


async def test_a_connection_that_idled_past_the_expiry_is_not_reused() -> None:
    handler, counts = answering(_OK)
    limits = httpx.Limits(max_keepalive_connections=4, keepalive_expiry=0.3)
    async with (
        serve(handler) as url,
        FastHttpClient(transport=ProviderTransport(limits), timeout=5.0) as http,
    ):
        await http.get(f"{url}/")
        await http.get(f"{url}/")
        await asyncio.sleep(0.5)
        await http.get(f"{url}/")
    assert counts == [2, 1]


async def test_stray_bytes_on_an_idle_connection_retire_it() -> None:
    """A server that says something unasked (e.g. a 408 before closing) is not reused."""

    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(0)
        await read_request(reader)
        counts[-1] += 1
        writer.write(_OK)
        await writer.drain()
        if len(counts) == 1:
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            said.set()
        await reader.read()

    counts: list[int] = []
    said = asyncio.Event()
    async with serve(chatty) as url, client() as http:
        assert (await http.get(f"{url}/")).status_code == 200
        await said.wait()
        assert (await http.get(f"{url}/")).status_code == 200
    assert counts == [1, 1]


async def test_the_server_sees_what_plain_httpx_sent() -> None:
    """Same request line, headers (names, order, values) and body as httpx's default client,
    and a response that looks the same to the caller."""
    heads: list[tuple[bytes, bytes]] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            heads.append((head, body))
            cookie = (
                b"Set-Cookie: a=1; Path=/\r\n" if b" /cookie" in head.split(b"\r\n")[0] else b""
            )
            writer.write(
                b"HTTP/1.1 201 Created\r\n" + cookie + b"X-Thing: yes\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            await writer.drain()

    headers = {
        "Authorization": "Bearer t",
        "User-Agent": "SyncCash/0.1",
        "Content-Type": "application/json",
    }
    seen: list[list[tuple[bytes, bytes]]] = []
    answers: list[list[httpx.Response]] = []
    async with serve(record) as url:
        for http in (
            httpx.AsyncClient(timeout=5.0, follow_redirects=False),
            provider_http_client(httpx.Timeout(5.0), concurrency=2),
        ):
            heads.clear()
            async with http:
                answers.append(
                    [
                        await http.request(
                            "POST", f"{url}/api/pay", content=b'{"a":1}', headers=headers
                        ),
                        await http.post(f"{url}/empty", headers=headers),
                        await http.post(
                            f"{url}/token", content=b"", headers={**headers, "Content-Length": "0"}
                        ),
                        await http.get(f"{url}/status?x=1", headers=headers),
                        await http.get(f"{url}/bare"),
                        await http.request(
                            "put",
                            f"{url}/put",
                            content=b"[]",
                            headers={"accept": "application/json", "connection": "keep-alive"},
                            timeout=2.0,
                        ),
                        await http.request(
                            "POST",
                            f"{url}/params",
                            content=b'{"a":1}',
                            params={"q": "1 2"},
                            headers=headers,
                        ),
                        await http.post(f"{url}/cookie", content=b"{}", headers=headers),
                        await http.post(f"{url}/after-cookie", content=b"{}", headers=headers),
                    ]
                )
                assert http.cookies.get("a") == "1"
            seen.append(list(heads))
    assert seen[0] == seen[1]
    assert seen[0][6][0].startswith(b"POST /params?q=1+2 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nCookie: a=1\r\n" in seen[0][8][0]
    for plain, ours in zip(answers[0], answers[1], strict=True):
        assert (ours.status_code, ours.reason_phrase, ours.http_version) == (
            201,
            "Created",
            "HTTP/1.1",
        )
        assert ours.headers.multi_items() == plain.headers.multi_items()
        assert ours.content == plain.content == b"{}"
        assert ours.request.url == plain.request.url
        assert ours.request.headers.raw == plain.request.headers.raw
        assert ours.request.extensions == plain.request.extensions
        assert ours.request.content == plain.request.content
        assert ours.elapsed.total_seconds() > 0
        assert ours.is_closed


async def test_a_base_url_is_merged_as_httpx_merges_it() -> None:
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            heads.append((await read_request(reader))[0].split(b"\r\n")[0])
            writer.write(_OK)
            await writer.drain()

    async with serve(record) as url:
        limits = httpx.Limits(max_keepalive_connections=1)
        async with FastHttpClient(
            transport=ProviderTransport(limits), base_url=f"{url}/mtn", timeout=5.0
        ) as http:
            await http.post("/collection/token/", content=b"")
    assert heads == [b"POST /mtn/collection/token/ HTTP/1.1"]


async def test_a_redirect_is_returned_with_its_next_request() -> None:
    moved = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    handler, counts = answering(moved)
    async with (
        serve(handler) as url,
        provider_http_client(httpx.Timeout(5.0), concurrency=1) as http,
    ):
        response = await http.post(f"{url}/pay", content=b"{}")
    assert response.status_code == 307
    assert response.next_request is not None
    assert response.next_request.url == httpx.URL(f"{url}/elsewhere")
    assert counts == [1]


# --- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, as on any deployment host)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


async def test_https_with_a_trusted_certificate_and_keep_alive(
    certificate: tuple[Path, Path],
) -> None:
    handler, counts = answering(_OK)
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    limits = httpx.Limits(max_keepalive_connections=2)
    async with (
        serve(handler, _server_tls(certificate)) as url,
        FastHttpClient(
            transport=ProviderTransport(limits, ssl_context=trusted), timeout=5.0
        ) as http,
    ):
        for _ in range(3):
            assert (await http.post(f"{url}/pay", content=b"{}")).status_code == 200
    assert counts == [3]


async def test_an_untrusted_certificate_is_a_connect_error(certificate: tuple[Path, Path]) -> None:
    handler, counts = answering(_OK)
    async with (
        serve(handler, _server_tls(certificate)) as url,
        provider_http_client(httpx.Timeout(5.0), concurrency=1) as http,
    ):
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.TRANSIENT
    assert counts == []


async def test_ssl_cert_file_is_honoured_with_trust_env(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    handler, counts = answering(_OK)
    async with (
        serve(handler, _server_tls(certificate)) as url,
        provider_http_client(httpx.Timeout(5.0), concurrency=1, trust_env=True) as http,
    ):
        assert (await http.get(f"{url}/")).status_code == 200
    assert counts == [1]


# --- parsing (httptools on the common path, h11 for the rest) ------------------------------


def received_by(counts: list[bytes]) -> Handler:
    """A handler that records every byte it gets on each connection and answers nothing."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(b"")
        while chunk := await reader.read(65536):
            counts[-1] += chunk

    return handler


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Note": "a\r\nX-Injected: 1"},
        {"X-Note": "a\nX-Injected: 1"},
        {"X-Note": "a\x00b"},
        {"X-Note\r\nX-Injected": "1"},
        {"X Note": "1"},
    ],
)
async def test_a_header_that_could_inject_another_is_refused_and_nothing_is_sent(
    headers: dict[str, str],
) -> None:
    seen: list[bytes] = []
    async with serve(received_by(seen)) as url, client() as http:
        with pytest.raises(httpx.LocalProtocolError):
            await http.post(f"{url}/pay", content=b"{}", headers=headers)
        await asyncio.sleep(0.05)
    assert b"".join(seen) == b""


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000,  # a head past 64 KiB, still going
    ],
)
async def test_a_malformed_answer_is_a_remote_protocol_error(answer: bytes) -> None:
    handler, _counts = answering(answer)
    async with serve(handler) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.UNKNOWN


def piecewise(answer: bytes, size: int) -> Handler:
    """A handler answering every request with `answer`, `size` bytes per packet."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            await read_request(reader)
            for start in range(0, len(answer), size):
                writer.write(answer[start : start + size])
                await writer.drain()
                await asyncio.sleep(0)

    return handler


_ODD_BUT_VALID = [
    pytest.param(_OK, id="content-length"),
    pytest.param(
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3\r\n{"a\r\n4;ext=1\r\n":1}\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n',
        id="chunked-with-extension-and-trailers",
    ),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" + _OK, id="100-continue"),
    pytest.param(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        id="103-early-hints",
    ),
    pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", id="204"),
    pytest.param(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", id="204-length-0"),
    pytest.param(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", id="304-length"),
    pytest.param(
        b"HTTP/1.1 201 Created\r\nContent-Length:    2   \r\nX-A:  b  c \r\n\r\n{}", id="ows"
    ),
    pytest.param(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}", id="no-reason"),
    pytest.param(b"HTTP/1.1 200 Very  Fine \r\nContent-Length: 2\r\n\r\n{}", id="odd-reason"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", id="length-twice"
    ),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}", id="length-list"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        id="chunked-capitalised",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\nContent-Length: 2\r\n\r\n{}", id="obs-fold"
    ),
    pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", id="bare-lf"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n{}",
        id="repeated-header",
    ),
    pytest.param(b"HTTP/1.1 599 Odd\r\nContent-Length: 2\r\n\r\n{}", id="odd-status"),
    pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", id="http-1.0-length"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\n{}",
        id="connection-close-in-a-list",
    ),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 00002\r\n\r\n{}", id="leading-zeros"),
]


@pytest.mark.parametrize("answer", _ODD_BUT_VALID)
@pytest.mark.parametrize("size", [1, 7, 1 << 20], ids=["1-byte-packets", "7-byte-packets", "whole"])
async def test_an_answer_looks_as_it_does_to_plain_httpx(answer: bytes, size: int) -> None:
    """Status, headers (names, order, values), body, version and reason as httpx's own client
    gives them, however the answer is cut into packets; and the connection is reused exactly
    when the answer allows it."""
    seen: list[tuple[int, list[tuple[str, str]], bytes, str, bytes]] = []
    connections: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await piecewise(answer, size)(reader, writer)

    async with serve(count) as url:
        for http in (httpx.AsyncClient(timeout=5.0), client()):
            connections.clear()
            async with http:
                for _ in range(2):
                    response = await http.post(f"{url}/pay", content=b"{}")
                    seen.append(
                        (
                            response.status_code,
                            response.headers.multi_items(),
                            response.content,
                            response.http_version,
                            response.extensions["reason_phrase"],
                        )
                    )
            seen.append((len(connections), [], b"", "", b""))
    half = len(seen) // 2
    assert seen[:half] == seen[half:]


async def test_a_head_answer_has_no_body_and_the_connection_is_reused() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = (await read_request(reader))[0].split(b"\r\n")[0]
            requests.append(line)
            writer.write(head if line.startswith(b"HEAD") else _OK)
            await writer.drain()

    async with serve(handler) as url, client() as http:
        first = await http.head(f"{url}/status")
        second = await http.post(f"{url}/pay", content=b"{}")
    assert (first.status_code, first.content, first.headers["content-length"]) == (200, b"", "11")
    assert second.content == b"{}         "
    assert requests == [b"HEAD /status HTTP/1.1", b"POST /pay HTTP/1.1"]


@pytest.mark.parametrize(
    "extra",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"junk",
    ],
    ids=["a-second-answer", "garbage"],
)
async def test_bytes_behind_the_answer_retire_the_connection(extra: bytes) -> None:
    handler, counts = answering(_OK + extra)
    async with serve(handler) as url, client() as http:
        first = await http.post(f"{url}/pay", content=b"{}")
        second = await http.post(f"{url}/pay", content=b"{}")
    assert first.content == second.content == b"{}         "
    assert counts == [1, 1]


async def test_a_server_that_closes_mid_head_is_an_unknown_outcome() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await writer.drain()

    async with serve(cut) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.UNKNOWN


async def test_a_read_timeout_mid_answer_is_a_read_timeout() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(10)

    async with serve(stall) as url, client(timeout=5.0, read=0.2) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await http.post(f"{url}/pay", content=b"{}")
    assert transport_outcome(caught.value, Operation.SUBMIT).kind is OutcomeKind.UNKNOWN
