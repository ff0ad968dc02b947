"""The provider transport writes requests itself (no h11 on the common path): property tests
that the bytes, and the refusals, are exactly h11's for any method, target and headers."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synccash.adapters.engines.http1 import _request_bytes

# Bytes h11 treats specially, and the ones that would let a caller inject a header.
_ALPHABET = b"aZ0-_ :,\t\r\n\x00\x7f\x80\xff;=/?"
_names = st.one_of(
    st.sampled_from(
        [
            b"Host",
            b"host",
            b"Content-Length",
            b"content-length",
            b"Transfer-Encoding",
            b"Connection",
            b"Upgrade",
            b"Expect",
            b"X-Thing",
            b"Authorization",
        ]
    ),
    st.binary(max_size=8),
    st.lists(st.sampled_from(list(_ALPHABET)), max_size=6).map(bytes),
)
_values = st.one_of(
    st.sampled_from(
        [
            b"",
            b"0",
            b"2",
            b"3",
            b"2, 2",
            b"2, 3",
            b" 2 ",
            b"chunked",
            b"Chunked",
            b"gzip",
            b"close",
            b"keep-alive, Close",
            b"websocket",
            b"a b",
            b"a\r\nX-Injected: 1",
            b"a\x00",
            b"\xff",
            b"example.com",
        ]
    ),
    st.binary(max_size=8),
    st.lists(st.sampled_from(list(_ALPHABET)), max_size=8).map(bytes),
)
_methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), st.text(max_size=5)
)
_targets = st.one_of(
    st.sampled_from([b"/", b"/pay?x=1", b"/a b", b"/a\r\nX: 1", b"", b"*"]), st.binary(max_size=6)
)
_bodies = st.sampled_from([b"", b"{}", b'{"a":1}'])


def _h11_bytes(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[bytes, bool]:
    """What the transport sent with h11 before (and whether the connection stayed usable)."""
    conn = h11.Connection(h11.CLIENT)
    data = conn.send(h11.Request(method=method, target=target, headers=headers)) or b""
    if body:
        data += conn.send(h11.Data(data=body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    if conn.our_state not in (h11.DONE, h11.MUST_CLOSE):  # a pending Upgrade/CONNECT switch
        return data, True
    return data, conn.our_state is h11.DONE


@given(
    method=_methods,
    target=_targets,
    extra=st.lists(st.tuples(_names, _values), max_size=4),
    body=_bodies,
    with_host=st.booleans(),
)
def test_the_request_bytes_and_refusals_are_h11s(
    method: str, target: bytes, extra: list[tuple[bytes, bytes]], body: bytes, with_host: bool
) -> None:
    headers = ([(b"Host", b"127.0.0.1:8000")] if with_host else []) + extra
    try:
        expected: tuple[bytes, bool] | str = _h11_bytes(method, target, headers, body)
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        expected = f"{type(exc).__name__}: {exc}"
    try:
        data, keep_alive, upgrade = _request_bytes(method, target, headers, body)
        got: tuple[bytes, bool] | str = (data, keep_alive or upgrade or method == "CONNECT")
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        got = f"{type(exc).__name__}: {exc}"
    assert got == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"X-Note", b"a\r\nX-Injected: 1"),
        (b"X-Note", b"a\nb"),
        (b"X-Note", b"a\rb"),
        (b"X-Note", b"a\x00b"),
        (b"X-No\r\nte", b"a"),
        (b"X-Note:", b"a"),
        (b"", b"a"),
    ],
)
def test_a_header_that_could_inject_another_is_refused(name: bytes, value: bytes) -> None:
    with pytest.raises(h11.LocalProtocolError):
        _request_bytes("POST", b"/pay", [(b"Host", b"h"), (name, value)], b"{}")


def test_an_invalid_method_or_target_is_refused() -> None:
    with pytest.raises(h11.LocalProtocolError, match="method"):
        _request_bytes("PO ST", b"/pay", [(b"Host", b"h")], b"")
    with pytest.raises(h11.LocalProtocolError, match="target"):
        _request_bytes("GET", b"/pay HTTP/1.1\r\nX: 1", [(b"Host", b"h")], b"")


def test_a_chunked_request_body_is_framed_as_h11_frames_it() -> None:
    headers = [(b"Host", b"h"), (b"Transfer-Encoding", b"Chunked")]
    data, keep_alive, upgrade = _request_bytes("POST", b"/pay", headers, b'{"a":1}')
    assert data == (
        b"POST /pay HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'7\r\n{"a":1}\r\n0\r\n\r\n'
    )
    assert (keep_alive, upgrade) == (True, False)
