"""One shared keep-alive HTTP client per process for the HTTP notifiers (json://, jsons://,
signed webhooks, Slack, Discord).

apprise opens a session and a TCP (and TLS) connection for every send; a page to a hook
already reached reuses its connection here. The pool is bounded per origin (scheme, host,
port), so a storm to one receiver queues on its few connections instead of opening
hundreds, and HTTP/1.1 only. Redirects are never followed by the client: a notifier that
follows one does so itself, to the same origin only (credentials and signatures go only
where the operator pointed).

The client is opened by the first service that acquires it (the paging worker, the chat
sync) and closed when the last one releases it at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
from httpx._utils import get_environment_proxies

PER_HOST = 16  # requests in flight to one origin; the rest wait for a free connection
MAX_CONNECTIONS = 128
KEEPALIVE = 64
KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection is kept
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_EXTRAS_KEY = "http_pool"


class _PerHostTransport(httpx.AsyncBaseTransport):
    """At most `per_host` requests in flight per origin, each held until its response
    is closed (the connection is busy until then)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, per_host: int) -> None:
        self._inner = inner
        self._per_host = per_host
        self._slots: dict[tuple[bytes, bytes, int | None], asyncio.Semaphore] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self._per_host)
        await slot.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            slot.release()
            raise
        response.stream = _Releasing(response.stream, slot)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Releasing(httpx.AsyncByteStream):
    def __init__(self, inner: Any, slot: asyncio.Semaphore) -> None:
        self._inner = inner
        self._slot: asyncio.Semaphore | None = slot

    async def __aiter__(self) -> Any:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._slot is not None:
                self._slot.release()
                self._slot = None


def _pooled(
    limits: httpx.Limits, per_host: int, timeout: httpx.Timeout, *, verify: bool
) -> httpx.AsyncClient:
    def transport(proxy: str | None) -> httpx.AsyncBaseTransport:
        inner = httpx.AsyncHTTPTransport(
            limits=limits, http1=True, http2=False, verify=verify, proxy=proxy
        )
        return _PerHostTransport(inner, per_host)

    # A client given its own transport ignores HTTP(S)_PROXY, ALL_PROXY and NO_PROXY;
    # apprise (requests) and a plain httpx client honour them, so these do too, read
    # the way httpx reads them (None: that host goes direct).
    mounts = {
        pattern: transport(proxy) if proxy else None
        for pattern, proxy in get_environment_proxies().items()
    }
    return httpx.AsyncClient(
        transport=transport(None), mounts=mounts, timeout=timeout, follow_redirects=False
    )


def new_client(
    *,
    per_host: int = PER_HOST,
    max_connections: int = MAX_CONNECTIONS,
    keepalive: int = KEEPALIVE,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    """The pooled client: HTTP/1.1, keep-alive, bounded per origin, no redirects, the
    environment's proxies. TLS verification is on; a jsons:// URL with verify=no asks
    for its own client."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=keepalive,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return _pooled(limits, per_host, timeout, verify=True)


def new_unverified_client() -> httpx.AsyncClient:
    """For jsons:// URLs with `verify=no` (a self-signed receiver), as apprise allows:
    a separate pool, so verification is never turned off for anyone else."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS // 4,
        max_keepalive_connections=KEEPALIVE // 4,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return _pooled(limits, PER_HOST, DEFAULT_TIMEOUT, verify=False)


class HttpPool:
    """The process's pooled clients, reference counted: `acquire()` opens the pool on
    first use, `release()` closes it when nobody holds it any more."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._unverified: httpx.AsyncClient | None = None
        self._users = 0

    @classmethod
    def shared(cls, extras: MutableMapping[str, Any]) -> HttpPool:
        """The pool kept in a runtime's `extras` (one per process)."""
        pool: HttpPool = extras.setdefault(_EXTRAS_KEY, cls())
        return pool

    def acquire(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_client()
        self._users += 1
        return self._client

    def unverified(self) -> httpx.AsyncClient:
        """The pool for `verify=no` URLs, opened on first use, closed with the other."""
        if self._unverified is None:
            self._unverified = new_unverified_client()
        return self._unverified

    async def release(self) -> None:
        self._users = max(self._users - 1, 0)
        if self._users == 0:
            clients = [c for c in (self._client, self._unverified) if c is not None]
            self._client = self._unverified = None
            for client in clients:
                await client.aclose()
