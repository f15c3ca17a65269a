"""apprise's json:// and jsons:// URLs delivered natively, on the shared keep-alive pool.

A receiver sees exactly the request apprise sends (tests/integrations/notifiers/
test_json_contract.py compares the two on one loopback server): the URL is parsed once
by apprise's own NotifyJSON parser, and requests (which apprise sends with) prepares
the URL, query and headers once, so `?method=`, `+Header=`, `-param=`, `:field=`,
`user:pass@`, `verify=`, `rto=`, `cto=` and `redirect=` mean what they mean in apprise.
Each send then only serialises apprise's body (`json.dumps` of version, title, message,
attachments, type, with the `:` overrides) and sends it on a pooled connection.

Arguments that would make apprise change the text (`format=html`, `overflow=split`,
`emojis=yes`) or retry and report differently (`retry=`, `optional=yes`) are refused
by check-config, so no URL silently behaves otherwise; so is a `+Transfer-Encoding=`
header (apprise would send a body its receiver cannot read). Deliberate differences: a
redirect is followed only to the same scheme, host and port (apprise follows any, with
the basic-auth header dropped), a 4xx answer other than 408/429 fails at once rather
than after every retry (retrying cannot help it), and a `+Host=` override is written as
the first header line (h11 always does; apprise keeps it where the URL put it).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import apprise
import httpx
import requests
from apprise.exception import AppriseException
from apprise.plugins.custom_json import NotifyJSON

from integrations.notifiers.apprise import firebell_asset, notify_type_for
from integrations.notifiers.base import (
    DeliveryResult,
    Notification,
    NotifierKind,
    NotifierSettings,
    TextMessage,
    parse_retry_after,
)
from integrations.notifiers.message import render_text, render_title
from routing.basics.redact import redact_url

SCHEMES = ("json", "jsons")
MAX_REDIRECTS = 30  # requests' limit, which apprise inherits
_REDIRECTS = (301, 302, 303, 307, 308)
# A header name http.client can write (it refuses anything but ASCII; RFC 9110 token).
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class JsonTarget:
    """What apprise would send to one URL, all but the body (parsed once, then cached)."""

    method: str
    url: str  # as requests prepares it: quoted path, `-` params in the query, IDNA host
    # As http.client writes them (Latin-1), in requests' order; Content-Length is set
    # per send, in its place.
    headers: tuple[tuple[bytes, bytes], ...]
    payload_extras: tuple[tuple[str, str], ...]  # the `:key=value` overrides, in order
    verify: bool
    follow_redirects: bool
    timeout: httpx.Timeout


def is_json_url(target: str) -> bool:
    scheme, sep, _ = target.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def _refusals(plugin: NotifyJSON) -> list[str]:
    """The arguments apprise honours that this sender does not: refused, not ignored."""
    out = []
    if plugin.resolve_format(apprise.NotifyFormat.TEXT) != apprise.NotifyFormat.TEXT:
        out.append("format= (firebell sends plain text, as apprise does without it)")
    if plugin.overflow_mode != apprise.OverflowMode.UPSTREAM:
        out.append("overflow= (pages are sent whole)")
    if plugin.interpret_emojis:
        out.append("emojis=yes")
    if getattr(plugin, "retry", 0):
        out.append("retry= (the outbox retries a failed page, with backoff)")
    if getattr(plugin, "optional", False):
        out.append("optional=yes (a failed page is reported, never taken as sent)")
    if any(name.lower() == "transfer-encoding" for name in plugin.headers):
        # requests would claim chunked yet send the body whole (a receiver cannot read
        # it); httpx would chunk it: no request both send alike.
        out.append("+Transfer-Encoding= (pages are sent whole, with a Content-Length)")
    return out


@lru_cache(maxsize=1024)
def parse_target(url: str) -> JsonTarget:
    """The request apprise would make for `url`; ValueError naming what is wrong."""
    shown = redact_url(url)
    if not is_json_url(url):
        raise ValueError(f"{shown}: not a json:// or jsons:// URL")
    results = NotifyJSON.parse_url(url)
    if not results:
        raise ValueError(f"{shown}: apprise cannot parse this URL")
    try:
        plugin = NotifyJSON(asset=firebell_asset(), **results)
    except (AppriseException, TypeError, ValueError) as exc:
        raise ValueError(f"{shown}: apprise refuses it ({exc.__class__.__name__})") from None
    refused = _refusals(plugin)
    if refused:
        raise ValueError(f"{shown}: not supported for json:// pages: {', '.join(refused)}")
    headers = {"User-Agent": plugin.app_id, "Content-Type": "application/json"}
    headers.update(plugin.headers)
    base = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
    if isinstance(plugin.port, int):
        base += f":{plugin.port}"
    base += plugin.fullpath
    # A user without a password goes as "user:None", as apprise sends it.
    auth: Any = (plugin.user, plugin.password) if plugin.user else None
    method = str(plugin.method)
    try:
        # requests warns about that "None" each time: the same request, no warning.
        with requests.Session() as session, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            request = requests.Request(
                method, base, data="{}", params=plugin.params, headers=headers, auth=auth
            )
            prepared = session.prepare_request(request)
    except (requests.RequestException, ValueError, UnicodeError) as exc:
        # apprise would fail every send the same way: refuse it before the first page.
        raise ValueError(f"{shown}: {exc.__class__.__name__} preparing the request") from None
    assert prepared.url is not None and prepared.method is not None
    for name in prepared.headers:
        if not _TOKEN.fullmatch(name.encode("utf-8")):
            raise ValueError(f"{shown}: header name {name!r} is not an HTTP token")
    try:
        raw = tuple(
            (name.encode("latin-1"), value if isinstance(value, bytes) else value.encode("latin-1"))
            for name, value in prepared.headers.items()
        )
        httpx.URL(prepared.url)
    except (UnicodeEncodeError, httpx.InvalidURL):
        raise ValueError(f"{shown}: a header value or the address cannot be sent as is") from None
    connect, read = plugin.request_timeout
    return JsonTarget(
        method=prepared.method,
        url=prepared.url,
        headers=raw,
        payload_extras=tuple(plugin.payload_extras.items()),
        verify=plugin.verify_certificate,
        follow_redirects=plugin.redirects,
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=None),
    )


def body_for(target: JsonTarget, title: str, message: str, notify_type: str) -> bytes:
    """apprise's NotifyJSON body, byte for byte (its title strip and body rstrip too)."""
    payload: dict[str, Any] = {
        "version": NotifyJSON.json_version,
        "title": title.strip(),
        "message": message.rstrip(),
        "attachments": [],
        "type": notify_type,
    }
    for key, value in target.payload_extras:
        if key in payload:
            if not value:
                del payload[key]
            else:
                payload[value] = payload.pop(key)
        else:
            payload[key] = value
    return json.dumps(payload).encode("ascii")


def result_for(response: httpx.Response, what: str) -> DeliveryResult:
    """2xx delivered; 408, 429 and 5xx retryable (honouring Retry-After); other 4xx,
    and 1xx/3xx (a redirect not followed), fail permanently."""
    status = response.status_code
    detail = f"{what} answered HTTP {status}"
    if 200 <= status < 300:
        return DeliveryResult.delivered(detail)
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return DeliveryResult.retryable(detail, retry_after)
    if status in _REDIRECTS:
        return DeliveryResult.permanent(
            f"{detail}, a redirect to another host or scheme (not followed: the page and "
            "its credentials go only where the contact points)"
        )
    return DeliveryResult.permanent(detail)


def failure_for(exc: httpx.HTTPError, what: str) -> DeliveryResult:
    """Timeouts and connection errors are retryable; the class name only (messages can
    quote the address)."""
    return DeliveryResult.retryable(f"{what} not reached: {exc.__class__.__name__}")


async def _send(
    client: httpx.AsyncClient, target: JsonTarget, body: bytes, what: str
) -> DeliveryResult:
    method, url = target.method, httpx.URL(target.url)
    content: bytes | None = body
    length = str(len(body)).encode("ascii")
    headers = [(k, length if k.lower() == b"content-length" else v) for k, v in target.headers]
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await client.request(
                method, url, content=content, headers=headers, timeout=target.timeout
            )
        except httpx.HTTPError as exc:
            return failure_for(exc, what)
        location = response.headers.get("location")
        if not (target.follow_redirects and response.status_code in _REDIRECTS and location):
            return result_for(response, what)
        following = url.join(location)
        if (following.scheme, following.host, following.port) != (url.scheme, url.host, url.port):
            return result_for(response, what)
        # requests' rules: 303 (and 301/302 after a POST) turn into a GET without a body.
        status = response.status_code
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
            headers = [
                (k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")
            ]
        url = following
    return DeliveryResult.permanent(f"{what}: more than {MAX_REDIRECTS} redirects")


class JsonNotifier:
    """json:// and jsons:// on the shared pool (`verify=no` URLs on a pool of their own)."""

    kind = "json"

    def __init__(
        self,
        client: httpx.AsyncClient,
        unverified: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self._client = client
        self._unverified = unverified

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        return await self._notify(
            target,
            render_title(notification),
            render_text(notification),
            notify_type_for(notification).value,
        )

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        """A plain message, sent as a warning (as the apprise notifier does)."""
        return await self._notify(
            target, message.title, message.text, apprise.NotifyType.WARNING.value
        )

    async def _notify(self, url: str, title: str, text: str, notify_type: str) -> DeliveryResult:
        try:
            target = parse_target(url)
        except ValueError as exc:
            return DeliveryResult.permanent(str(exc))
        if target.verify:
            client = self._client
        elif self._unverified is not None:
            client = self._unverified()
        else:
            return DeliveryResult.permanent("verify=no needs the process's unverified pool")
        what = f"{target.method} {redact_url(url)}"
        return await _send(client, target, body_for(target, title, text, notify_type), what)


def _build(settings: NotifierSettings) -> JsonNotifier:
    return JsonNotifier(settings.http_client, settings.unverified_http_client)


def _check(target: str) -> None:
    try:
        parse_target(target)
    except ValueError as exc:
        raise ValueError(f"target: {exc}") from None


KIND = NotifierKind(build=_build, check=_check)
