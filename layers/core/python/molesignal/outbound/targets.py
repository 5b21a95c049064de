"""Where MoleSignal may send data over HTTP on a tenant's behalf, and the one client that sends it.

A destination URL is tenant input that makes MoleSignal open a connection (server-side request
forgery is the risk), so it is checked twice: when the destination is saved (scheme, shape,
literal addresses) and at every send (every address the host resolves to). The connection then
goes to the address that was checked, never to a second resolution, so a DNS answer that changes
between check and connect (rebinding) cannot redirect it. Redirects are not followed.

Never allowed: link-local addresses (169.254.0.0/16, which holds the instance metadata service,
and fe80::/10), the metadata service's IPv6 address, multicast, unspecified and reserved ones.
Loopback and private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and names such
as ``localhost`` or ``*.internal`` only where ``Settings.private_targets_allowed`` says so
(``MOLESIGNAL_OUTBOUND_ALLOW_PRIVATE_TARGETS``; by default on the local stage only, whose test
receivers listen on 127.0.0.1). Plain ``http`` is accepted only where private targets are;
elsewhere a destination must use ``https``.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from molesignal.errors import Unprocessable
from molesignal.settings import get_settings

MAX_URL_LENGTH = 2048
MAX_ANSWER_BYTES = 64 * 1024
ANSWER_EXCERPT_CHARS = 512
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "metadata", "metadata.google.internal"})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Unprocessable):
    """A destination URL, or an address it resolves to, is not one MoleSignal may connect to."""

    code = "destination_refused"


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent

    @property
    def display(self) -> str:
        """The URL without credentials or query (queries often carry tokens)."""
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path.split('?', 1)[0]}"

    def with_default_path(self, path: str) -> Target:
        """The same target with ``path`` when the URL named none (a service's well-known path)."""
        if self.path not in ("", "/"):
            return self
        return Target(self.url, self.scheme, self.host, self.port, path)


def _allowed(allow_private: bool | None) -> bool:
    return get_settings().private_targets_allowed if allow_private is None else allow_private


def address_problem(address: IpAddress, *, allow_private: bool) -> str | None:
    """Why MoleSignal may not connect to ``address``, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA or address.is_link_local:
        return "link-local and metadata addresses are never allowed"
    if address.is_multicast or address.is_unspecified:
        return "multicast and unspecified addresses are not allowed"
    # Before the reserved check: ::1 lies in IPv6's reserved ::/8 and is loopback all the same.
    if address.is_loopback or address.is_private or address in _SHARED_ADDRESS_SPACE:
        return None if allow_private else "loopback and private network addresses are not allowed in this deployment"
    if address.is_reserved:
        return "reserved addresses are not allowed"
    return None


def parse_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Check a destination URL's shape and any literal address in it (no DNS lookup)."""
    allow = _allowed(allow_private)
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"invalid argument: url is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("invalid argument: url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"invalid argument: url is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("invalid argument: url must use https (or http where private targets are allowed)")
    if scheme == "http" and not allow:
        raise TargetRefused("invalid argument: url must use https in this deployment")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("invalid argument: url must not carry credentials; use the destination's secret")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefused("invalid argument: url has no host")
    if parts.fragment:
        raise TargetRefused("invalid argument: url must not have a fragment")
    _check_host(host, allow=allow)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


def _check_host(host: str, *, allow: bool) -> None:
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        problem = address_problem(literal, allow_private=allow)
        if problem:
            raise TargetRefused(f"invalid argument: url host {host}: {problem}")
    elif (host in _LOCAL_NAMES or host.endswith((".localhost", ".internal"))) and not allow:
        raise TargetRefused(f"invalid argument: url host {host} names a local or internal service")


def resolve_checked(target: Target, *, allow_private: bool | None = None) -> IpAddress:
    """The address to connect to: every address the host resolves to must be allowed."""
    allow = _allowed(allow_private)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"destination host {target.host} does not resolve: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"destination host {target.host} does not resolve")
    for address in addresses:
        problem = address_problem(address, allow_private=allow)
        if problem:
            raise TargetRefused(f"destination host {target.host} resolves to {address}: {problem}")
    return addresses[0]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    excerpt: str
    took_ms: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection to one checked address, whatever the host name resolves to now."""

    def __init__(self, address: IpAddress, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = str(address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTlsConnection(_PinnedConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float | None = None,
    allow_private: bool | None = None,
) -> HttpAnswer:
    """POST ``body`` to the checked address of ``target``; the answer, whatever its status.

    Raises ``TargetRefused`` for a refused address and ``OSError`` (timeouts included) for a
    receiver that could not be reached.
    """
    timeout = timeout_s or get_settings().outbound_timeout_s
    address = resolve_checked(target, allow_private=allow_private)
    kind = _PinnedTlsConnection if target.scheme == "https" else _PinnedConnection
    connection = kind(address, target.host, target.port, timeout)
    started = time.perf_counter()
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER_BYTES)
    except http.client.HTTPException as exc:
        raise OSError(f"the receiver's answer was not HTTP: {exc}") from exc
    finally:
        connection.close()
    excerpt = answer.decode("utf-8", "replace")[:ANSWER_EXCERPT_CHARS]
    return HttpAnswer(status=response.status, excerpt=excerpt, took_ms=(time.perf_counter() - started) * 1000)
