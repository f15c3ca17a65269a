"""The one HTTP client playbook steps use: it goes only where a connection points.

Server-side request forgery is the risk: alert text fills parts of a request, and the bot
runs next to cloud metadata endpoints and internal services. So every request resolves
its host, refuses loopback, private, link-local (169.254.169.254), unique-local,
unspecified, multicast and IPv4-embedding IPv6 addresses unless the connection says
`allow_private: true`, then connects to the very IP it checked (no DNS rebinding between
check and connect: the URL carries the IP, Host and TLS SNI carry the name). Redirects
are followed only on the same host, re-checked; every request has a deadline and a
response size cap. Error texts name the host and path, never a header.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from integrations.connections import HttpConnection

if TYPE_CHECKING:  # integrations.logs imports this module: no import cycle at run time
    from integrations.logs.base import HttpCall

# host, port -> the addresses it resolves to (tests map names to chosen addresses).
Resolver = Callable[[str, int], list[str]]

MAX_REDIRECTS = 3
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_REDACTED = "***"


class OutboundRefused(RuntimeError):
    """The request was not made or not finished: address not allowed, off-host redirect,
    response too large, no answer in time, or the network failed. Never names a secret."""


class OutboundNotSent(OutboundRefused):
    """Refused before a byte of the request left: the address check or DNS refused the
    first hop, or no connection could be opened. A dispatch that raises this certainly
    did not arrive, so it is a plain failure, never an ambiguous one."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why a connection may not reach `address` without allow_private (None: it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(str(inner))
            return f"an IPv6 form of {inner}, {problem}" if problem else None
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return "a unique-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def _refusal(host: str, address: str, problem: str) -> str:
    shown = host if host == address else f"{host} ({address})"
    return f"{shown} is {problem}; set allow_private: true on the connection to allow it"


def _resolve(resolver: Resolver, host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]  # a literal address needs no DNS
    except ValueError:
        return resolver(host, port)


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    return scheme, host, parts.port or (443 if scheme == "https" else 80)


def check_address(url: str, allow_private: bool, resolver: Resolver | None = None) -> str | None:
    """Load-time check of a connection URL: a problem text, or None. A host that does
    not resolve now is not an error here (DNS may be down); every send checks again."""
    if allow_private:
        return None
    _, host, port = _split(url)
    try:
        addresses = _resolve(resolver or system_resolver, host, port)
    except (OSError, UnicodeError):
        return None
    for address in addresses:
        problem = address_problem(address)
        if problem:
            return _refusal(host, address, problem)
    return None


def full_url(connection: HttpConnection, call: HttpCall) -> str:
    url = connection.url + call.path
    return f"{url}?{urlencode(call.query)}" if call.query else url


def describe_request(connection: HttpConnection, call: HttpCall) -> dict[str, Any]:
    """The request as a dry-run shows it; credential headers are shown as ***."""
    headers = dict(call.headers)
    headers.update({name: _REDACTED for name in connection.auth_headers()})
    return {
        "method": call.method,
        "url": full_url(connection, call),
        "headers": headers,
        "body": call.json,
    }


class Outbound:
    def __init__(self, resolver: Resolver | None = None, tls: ssl.SSLContext | None = None) -> None:
        self._resolver = resolver or system_resolver
        self._tls = tls  # the trust store for https; None: the system's
        # One client per origin: pooled connections carry the TLS name they were opened
        # with, so two names on one IP must not share a pool.
        self._clients: dict[tuple[str, str, int], httpx.AsyncClient] = {}

    def describe(self, connection: HttpConnection, call: HttpCall) -> dict[str, Any]:
        return describe_request(connection, call)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def send(self, connection: HttpConnection, call: HttpCall) -> OutboundResponse:
        url = full_url(connection, call)
        seconds = connection.timeout.total_seconds()
        _, host, _ = _split(url)
        try:
            async with asyncio.timeout(seconds):
                return await self._send_following(connection, call, url)
        except TimeoutError:
            raise OutboundRefused(
                f"{call.method} {host}{call.path}: no complete answer within {seconds:g}s"
            ) from None

    async def _send_following(
        self, connection: HttpConnection, call: HttpCall, url: str
    ) -> OutboundResponse:
        method, body = call.method, (call.json if call.content is None else call.content)
        # identity: a compressed answer could expand far past the size cap in one chunk
        headers = {
            "user-agent": "firebell",
            "accept-encoding": "identity",
            **dict(call.headers),
            **connection.auth_headers(),
        }
        # host stays; scheme and port are those of the current hop
        current_scheme, first_host, current_port = _split(url)
        for hop in range(MAX_REDIRECTS + 1):
            try:
                response = await self._send_once(connection, method, url, headers, body)
            except OutboundNotSent as exc:
                if hop == 0:
                    raise
                # An earlier hop reached the server: the request may have had its effect.
                raise OutboundRefused(str(exc)) from None
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            target = urljoin(url, location)
            try:
                scheme, host, port = _split(target)
            except ValueError:  # a port that is not a number or past 65535
                raise OutboundRefused(f"{first_host} redirected to an invalid URL") from None
            if host != first_host or scheme not in ("http", "https"):
                raise OutboundRefused(
                    f"{first_host} redirected to another host ({host or 'no host'}): refused"
                )
            if current_scheme == "https" and scheme == "http":
                raise OutboundRefused(f"{first_host} redirected from https to http: refused")
            # The credentials go along, so another port (another service) is refused too;
            # only http's default port upgrading to https's is the same service.
            upgrade = (current_scheme, current_port, scheme, port) == ("http", 80, "https", 443)
            if port != current_port and not upgrade:
                raise OutboundRefused(f"{first_host} redirected to another port ({port}): refused")
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            url, current_scheme, current_port = target, scheme, port
        raise OutboundRefused(f"{first_host}: more than {MAX_REDIRECTS} redirects")

    async def _send_once(
        self,
        connection: HttpConnection,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Any,
    ) -> OutboundResponse:
        scheme, host, port = _split(url)
        address = await self._checked_address(host, port, connection.allow_private)
        parsed = httpx.URL(url)
        at_ip = parsed.copy_with(host=address)
        name = parsed.raw_host.decode("ascii")  # IDNA-encoded, as Host and SNI want it
        shown_name = f"[{name}]" if ":" in name else name  # an IPv6 literal
        default_port = port == (443 if scheme == "https" else 80)
        host_header = shown_name if default_port else f"{shown_name}:{port}"
        extensions = {"sni_hostname": name} if scheme == "https" else {}
        client = self._client(scheme, host, port)
        request = client.build_request(
            method,
            at_ip,
            headers={**headers, "host": host_header},
            # bytes: a body sent exactly as given (JSON never encodes to bytes)
            **({"content": body} if isinstance(body, bytes) else {"json": body}),
            timeout=httpx.Timeout(connection.timeout.total_seconds()),
            extensions=extensions,
        )
        where = f"{method} {host}{parsed.path}"
        cap = connection.max_response_bytes
        try:
            response = await client.send(request, stream=True)
            try:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise OutboundRefused(f"{where}: response larger than {cap} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise OutboundRefused(f"{where}: response larger than {cap} bytes")
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise TimeoutError from None  # reported by send() with the deadline
        except httpx.ConnectError as exc:  # TCP or TLS setup failed: nothing was written
            raise OutboundNotSent(f"{where}: {type(exc).__name__} {exc}".strip()) from None
        except httpx.HTTPError as exc:
            raise OutboundRefused(f"{where}: {type(exc).__name__} {exc}".strip()) from None
        return OutboundResponse(
            response.status_code,
            {name.lower(): value for name, value in response.headers.items()},
            b"".join(chunks),
        )

    async def _checked_address(self, host: str, port: int, allow_private: bool) -> str:
        try:
            addresses = await asyncio.to_thread(_resolve, self._resolver, host, port)
        except (OSError, UnicodeError) as exc:
            raise OutboundNotSent(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise OutboundNotSent(f"cannot resolve {host}: no address")
        if not allow_private:
            # Every address must pass: a name may answer with a public and a private one.
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise OutboundNotSent(_refusal(host, address, problem))
        return addresses[0].split("%", 1)[0]

    def _client(self, scheme: str, host: str, port: int) -> httpx.AsyncClient:
        key = (scheme, host, port)
        client = self._clients.get(key)
        if client is None:
            # trust_env=False: an HTTP(S)_PROXY variable must not carry the checked IP elsewhere.
            client = httpx.AsyncClient(
                follow_redirects=False, trust_env=False, verify=self._tls or True
            )
            self._clients[key] = client
        return client


__all__ = [
    "MAX_REDIRECTS",
    "Outbound",
    "OutboundNotSent",
    "OutboundRefused",
    "OutboundResponse",
    "Resolver",
    "address_problem",
    "check_address",
    "describe_request",
    "full_url",
]
