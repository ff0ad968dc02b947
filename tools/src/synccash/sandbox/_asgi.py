"""A deliberately small ASGI layer: the sandboxes need byte-exact control of the wire
(empty 202 bodies, provider error shapes, 411 quirks, held connections), which a
framework's own validation and error pages would get in the way of.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio
from attrs import field, frozen

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIApp(Protocol):
    """The ASGI 3 callable."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


@frozen
class Request:
    """An HTTP request, fully read. Header names are lower case."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    params: Mapping[str, str] = field(factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)

    def with_params(self, params: Mapping[str, str]) -> Request:
        """A copy carrying the path parameters of the matched route."""
        return Request(self.method, self.path, self.headers, self.query, self.body, params)


@frozen
class Response:
    """An HTTP response."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, data: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        """A JSON response."""
        return cls(
            status,
            json.dumps(data, separators=(",", ":")).encode(),
            (("content-type", "application/json; charset=utf-8"), *headers),
        )

    @classmethod
    def empty(cls, status: int) -> Response:
        """A response with no body (``Content-Length: 0``)."""
        return cls(status)


Handler = Callable[[Request], Awaitable[Response]]


class Router:
    """Method + path-template routing (``{name}`` matches one path segment)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register a handler."""
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | int:
        """The handler and path params, or 404/405."""
        status = 404
        for route_method, pattern, handler in self._routes:
            found = pattern.match(path)
            if found:
                if route_method == method:
                    return handler, found.groupdict()
                status = 405
        return status


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Read the whole request body."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    return Request(scope["method"], scope["path"], headers, query, b"".join(chunks))


async def send_response(send: Send, response: Response) -> None:
    """Write a response with an exact Content-Length."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def wait_for_disconnect(receive: Receive, seconds: float) -> None:
    """Hold a connection for ``seconds`` or until the client goes away."""
    with anyio.move_on_after(seconds):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return


async def lifespan(receive: Receive, send: Send, running: Callable[[], Any]) -> None:
    """Serve the ASGI lifespan protocol, holding ``running()`` open between startup and shutdown."""
    message = await receive()
    if message["type"] != "lifespan.startup":  # pragma: no cover - protocol guarantees it
        return
    async with running():
        await send({"type": "lifespan.startup.complete"})
        while (await receive())["type"] != "lifespan.shutdown":
            pass
    await send({"type": "lifespan.shutdown.complete"})
