"""SSRF guard for every outgoing merchant URL: checked when registered and again when used.

A merchant URL (a payment's `webhook_url`, a webhook endpoint) may only reach the public
internet. `UrlGuard.check` is the static check, run at registration and before every
delivery: https only; no userinfo; no single-label, local-use or metadata host names; an IP
literal only in canonical form (no `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) and only
a public address. At delivery the host is resolved once, **every** answer is checked, and the
connection goes to a checked address (`GuardedBackend`), so DNS rebinding between the check and
the connect gains nothing; TLS still verifies the certificate against the host name. Redirects
are never followed (a 3xx is a failed attempt).

Local development: `WEBHOOK_ALLOWED_TARGETS` names hosts (exact names), addresses and networks
that may be reached although they are internal, e.g. `127.0.0.1,localhost`; plain `http://` is
accepted only for those. Nothing is allowed by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx
from attrs import frozen

from synccash.core.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses it resolves to (as strings); injected in tests.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_URL_LENGTH: Final = 2048

#: Cloud metadata services and other names that only ever mean "this machine's network".
_BLOCKED_NAMES: Final = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
#: Suffixes reserved for local use (RFC 6761/6762/8375, ICANN's `.internal`).
_BLOCKED_SUFFIXES: Final = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".home.arpa",
    ".intranet",
    ".lan",
)
#: Ranges that embed or translate to IPv4 (and so could reach an internal IPv4 address).
_EMBEDDING_V6: Final = tuple(
    ipaddress.IPv6Network(n) for n in ("2002::/16", "64:ff9b::/96", "64:ff9b:1::/48", "::/96")
)
_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
_NUMERIC_LABEL: Final = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_CANONICAL_OCTET: Final = re.compile(r"^(0|[1-9][0-9]{0,2})$")


class UnsafeUrl(ValidationError):
    """A merchant URL that SyncCash refuses to call (SSRF protection)."""

    code = "webhook_url_not_allowed"


def address_problem(address: IPAddress) -> str | None:
    """Why `address` must not be called, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if any(address in net for net in _EMBEDDING_V6):
            return "an IPv6 address that embeds an IPv4 address"
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a CGNAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for failed, why in checks:
        if failed:
            return why
    return None


def _parse_networks(entries: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


def _ascii_host(host: str) -> str:
    """The host as resolvers see it: IDNA-encoded (fullwidth digits become ASCII digits)."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeUrl("not a valid host name", code="invalid_webhook_url") from None


@frozen
class Target:
    """A URL that passed the static check: where it points."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None


class UrlGuard:
    """Decides which merchant URLs may be called, and resolves them safely at delivery."""

    def __init__(
        self,
        allowed: Iterable[str] = (),
        *,
        resolver: Resolver | None = None,
    ) -> None:
        """A guard allowing only public https URLs, plus the `allowed` names/addresses/networks."""
        self._names, self._networks = _parse_networks(allowed)
        self._resolver: Resolver = resolver or system_resolver

    @classmethod
    def from_setting(cls, raw: str, *, resolver: Resolver | None = None) -> UrlGuard:
        """A guard from the comma-separated `WEBHOOK_ALLOWED_TARGETS` value."""
        return cls(raw.split(","), resolver=resolver)

    def _allowed_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self._networks)

    def check(self, url: str) -> Target:
        """The URL's target if it may be called; raise UnsafeUrl (422) otherwise. No I/O."""
        if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in url):
            msg = (
                "webhook URLs must be at most 2048 characters without spaces or control characters"
            )
            raise UnsafeUrl(msg, code="invalid_webhook_url")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UnsafeUrl("not a valid URL", code="invalid_webhook_url") from None
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http") or not parts.hostname:
            raise UnsafeUrl("webhook URLs must be https:// URLs", code="invalid_webhook_url")
        if "@" in parts.netloc:
            raise UnsafeUrl("webhook URLs must not carry a user name or password")
        host = _ascii_host(parts.hostname.rstrip("."))
        literal = self._literal(host)
        allowed = host in self._names or (literal is not None and self._allowed_address(literal))
        if scheme != "https" and not allowed:
            raise UnsafeUrl("webhook URLs must use https")
        if not allowed:
            self._check_host(host, literal)
        return Target(scheme, host, port or (443 if scheme == "https" else 80), literal)

    @staticmethod
    def _literal(host: str) -> IPAddress | None:
        """The IP address `host` spells, or None for a name; refuses non-canonical IPv4 forms."""
        if ":" in host:
            try:
                return ipaddress.IPv6Address(host.split("%", 1)[0])
            except ValueError:
                raise UnsafeUrl("not a valid IPv6 address", code="invalid_webhook_url") from None
        labels = host.split(".")
        # WHATWG URL parsing (and inet_aton in resolvers) reads a host ending in a numeric
        # label as an IPv4 address in decimal, octal or hex: only the canonical form is taken.
        if not _NUMERIC_LABEL.match(labels[-1]):
            return None
        if len(labels) != 4 or not all(_CANONICAL_OCTET.match(label) for label in labels):
            raise UnsafeUrl(
                "webhook URLs must write IP addresses as four decimal numbers (a.b.c.d)"
            )
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeUrl("not a valid IPv4 address", code="invalid_webhook_url") from None

    @staticmethod
    def _check_host(host: str, literal: IPAddress | None) -> None:
        if literal is not None:
            why = address_problem(literal)
            if why is not None:
                raise UnsafeUrl(f"webhook URLs must not point to {why}")
            return
        if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
            raise UnsafeUrl("webhook URLs must not point to a local or metadata host name")
        if "." not in host:
            raise UnsafeUrl("webhook URLs need a fully qualified host name")

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`: every answer checked, else UnsafeUrl."""
        host = host.rstrip(".").lower()
        literal = self._literal(host)
        if literal is not None:
            answers = [str(literal)]
        else:
            answers = list(await self._resolver(host, port))
            if not answers:
                raise UnsafeUrl(f"{host} does not resolve")
        if host in self._names:
            return answers
        for answer in answers:
            address = ipaddress.ip_address(answer.split("%", 1)[0])
            why = None if self._allowed_address(address) else address_problem(address)
            if why is not None:
                # one bad answer refuses the host: a resolver may hand out any of them
                raise UnsafeUrl(f"{host} resolves to {why}")
        return answers


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The host's addresses from the system resolver (A and AAAA), in the resolver's order."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"{host} does not resolve: {exc.strerror or exc}") from None
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard checked.

    httpcore hands it the URL's host; it resolves the host itself, checks every answer and
    connects to a checked address (trying the next one if a connect fails). TLS happens
    later on the stream with the original host name (SNI and certificate check).
    """

    def __init__(self, guard: UrlGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        """Guard `inner` (default: httpcore's automatic backend)."""
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check every answer, connect to the first checked address that answers."""
        addresses = await self._guard.resolve(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: merchant URLs are TCP only."""
        del path, timeout, socket_options
        msg = "unix sockets are not allowed for merchant URLs"
        raise UnsafeUrl(msg)

    async def sleep(self, seconds: float) -> None:
        """Delegate to the inner backend."""
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that uses `GuardedBackend`."""

    def __init__(self, guard: UrlGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx does not expose the pool's network backend; the pool is rebuilt with ours
        # (same settings httpx would use; httpx is pinned below 0.29).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )


def merchant_http_client(
    guard: UrlGuard,
    *,
    proxy: str = "",
    timeout: httpx.Timeout | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """The HTTP client for merchant URLs: guarded connects, no redirects, no environment proxies.

    With `proxy` (`WEBHOOK_PROXY_URL`) every request goes through that egress proxy, which
    resolves and connects itself: the guard still checks each URL and its DNS answers before
    the request (see `WebhookDispatcher`), and the proxy should enforce the same policy.
    """
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    timeout = timeout or httpx.Timeout(10.0)
    if proxy:
        return httpx.AsyncClient(
            proxy=proxy, timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
        )
    return httpx.AsyncClient(
        transport=_GuardedTransport(guard, limits),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


__all__ = [
    "GuardedBackend",
    "Resolver",
    "Target",
    "UnsafeUrl",
    "UrlGuard",
    "address_problem",
    "merchant_http_client",
    "system_resolver",
]
