"""Delivery to any apprise URL (json://, form://, mailto://, ntfy://, slack://, discord://, ...)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import apprise

from integrations.notifiers.base import (
    DeliveryResult,
    Notification,
    NotifierKind,
    NotifierSettings,
    TextMessage,
)
from integrations.notifiers.message import render_text, render_title
from routing.intake.alert import Severity

_NOTIFY_TYPES = {
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
    Severity.ERROR: apprise.NotifyType.FAILURE,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.INFO: apprise.NotifyType.INFO,
}


def notify_type_for(n: Notification) -> apprise.NotifyType:
    return apprise.NotifyType.SUCCESS if n.status == "resolved" else _NOTIFY_TYPES[n.severity]


def firebell_asset() -> apprise.AppriseAsset:
    """What apprise sends as firebell (its User-Agent is the app_id): the native json://
    sender uses the same, so a receiver sees one sender either way."""
    return apprise.AppriseAsset(app_id="firebell", app_desc="firebell incident")


def scheme_of(url: str) -> str:
    """The part of an apprise URL that is safe to show: the rest may hold tokens."""
    scheme, sep, _ = url.partition("://")
    return scheme if sep and scheme.isascii() and scheme.isalnum() else "?"


class AppriseNotifier:
    """Sends the plain-text rendering through apprise.

    Apprise reports only success or failure per service, not why, so every failure is
    RETRYABLE (the outbox gives up after its attempt budget); only a URL apprise cannot
    parse is PERMANENT. Parsed URLs are cached: parsing loads the plugin and validates
    the URL, and a cached plugin object keeps apprise's own per-service throttling.
    """

    kind = "apprise"

    def __init__(self, timeout: float = 30.0, cache_size: int = 256) -> None:
        self._timeout = timeout  # a whole-call deadline; apprise reports TIMEOUT after it
        self._cache_size = cache_size
        self._cache: OrderedDict[str, apprise.Apprise] = OrderedDict()
        self._lock = threading.Lock()  # sends from several event-loop threads share the cache
        self._asset = firebell_asset()

    def load(self, url: str) -> apprise.Apprise | None:
        """The cached Apprise object for `url`, or None when apprise cannot parse it."""
        with self._lock:
            found = self._cache.get(url)
            if found is not None:
                self._cache.move_to_end(url)
                return found
        loaded = apprise.Apprise(asset=self._asset)
        if not loaded.add(url):
            return None
        with self._lock:
            self._cache[url] = loaded
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return loaded

    async def send(self, target: str, notification: Notification) -> DeliveryResult:
        return await self._notify(
            target,
            render_title(notification),
            render_text(notification),
            notify_type_for(notification),
        )

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult:
        """A plain message (a reminder, not an incident): sent as a warning."""
        return await self._notify(target, message.title, message.text, apprise.NotifyType.WARNING)

    async def _notify(
        self, target: str, title: str, body: str, notify_type: apprise.NotifyType
    ) -> DeliveryResult:
        scheme = scheme_of(target)
        loaded = self.load(target)
        if loaded is None:
            return DeliveryResult.permanent(f"apprise cannot parse this {scheme}:// URL")
        result = await loaded.async_notify(
            body=body,
            title=title,
            notify_type=notify_type,
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self._timeout,
        )
        if result:
            return DeliveryResult.delivered(f"apprise {scheme}:// accepted")
        status = result.status
        if status == apprise.AppriseResultStatus.NOMATCH:
            return DeliveryResult.permanent(f"apprise {scheme}:// loaded no service")
        # Apprise's log lines say what went wrong ("HTTP Error 500") without the secrets.
        reasons = [entry.message for entry in result.logs()][-3:]
        why = "; ".join(reasons) or status.name.lower()
        return DeliveryResult.retryable(f"apprise {scheme}:// failed: {why}")


def _build(settings: NotifierSettings) -> AppriseNotifier:
    return AppriseNotifier()


def _check(target: str) -> None:
    if not apprise.Apprise().add(target):
        raise ValueError(f"target: apprise cannot parse this {scheme_of(target)}:// URL")


KIND = NotifierKind(build=_build, check=_check)
