"""Jinja2 rendering for the page: one environment, the viewer's context on every render.

Times are shown in the viewer's zone (their `users:` time_zone, else UTC) with UTC on
hover; the zone and "now" reach the filters through a context variable set for the
duration of one render, so macros imported without context format them right too.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader

from bot.config.identities import Principal
from bot.runtime.state import Runtime
from bot.web.auth import Viewer, identify_viewer
from bot.web.errors import PageError
from bot.web.session import csrf_token
from routing.oncall.people import role_allows

UTC_ZONE = ZoneInfo("UTC")
# Clickjacking: action buttons must never sit in someone else's frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class _Clock:
    now: datetime
    tz: ZoneInfo
    csrf: str = ""


_clock: ContextVar[_Clock] = ContextVar("firebell_web_clock")


def _current() -> _Clock:
    try:
        return _clock.get()
    except LookupError:
        return _Clock(datetime.now(UTC), UTC_ZONE)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_utc(value: datetime) -> str:
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(value: datetime) -> str:
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def local(value: datetime | None, tz: ZoneInfo | None = None, now: datetime | None = None) -> str:
    """`value` in the viewer's zone: the time only when it is today there, else the date."""
    if value is None:
        return ""
    clock = _current()
    zone = tz or clock.tz
    here = _aware(value).astimezone(zone)
    today = _aware(now or clock.now).astimezone(zone).date()
    label = here.tzname() or str(zone)
    if here.date() == today:
        return f"{here:%H:%M} {label}"
    return f"{here:%Y-%m-%d %H:%M} {label}"


def duration(value: timedelta | float | int | None) -> str:
    """A span as "2d 3h", "1h 5m", "4m 10s", "12s": two units at most, rounded down."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), None)
    if first is None:
        return "0s"
    # The largest unit and the next one ("1d 3h", "2h"): a lower unit is never shown alone.
    shown = [f"{n}{unit}" for n, unit in parts[first : first + 2] if n]
    return sign + " ".join(shown)


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Relative to now: "5m ago", "in 10m", "just now"."""
    if value is None:
        return ""
    delta = _aware(now or _current().now) - _aware(value)
    if abs(delta) < timedelta(seconds=30):
        return "just now"
    if delta > timedelta(0):
        return f"{duration(delta)} ago"
    return f"in {duration(-delta)}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local=local, duration=duration, ago=ago, iso_utc=iso_utc, utc=utc_text)
    env.globals.update(static_url=static_url, csrf_value=lambda: _current().csrf)
    return env


def _static_versions() -> dict[str, str]:
    """A content hash per static file: URLs change when a file does (cache busting)."""
    root = resources.files("bot.web") / "static"
    versions: dict[str, str] = {}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for item in folder.iterdir():
            name = prefix + item.name
            if item.is_dir():
                stack.append((item, name + "/"))
            else:
                versions[name] = hashlib.sha256(item.read_bytes()).hexdigest()[:12]
    return versions


_VERSIONS = _static_versions()


def static_url(name: str) -> str:
    version = _VERSIONS.get(name)
    if version is None:
        raise KeyError(f"no static file {name!r} in bot/web/static")
    return f"/static/{name}?v={version}"


ENV = _environment()


def viewer_zone(rt: Runtime, principal: Principal | None) -> ZoneInfo:
    if principal is not None and principal.user:
        user = rt.settings.users_by_name.get(principal.user)
        if user is not None:
            return user.time_zone
    return UTC_ZONE


def _viewer(request: Request) -> Viewer | None:
    viewer: Viewer | None = getattr(request.state, "web_viewer", None)
    if viewer is None:
        try:
            viewer = identify_viewer(request)
        except PageError:
            viewer = None
    return viewer


def render(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """`template_name` rendered with `context` plus: user, can_act, csrf_token, now, tz,
    public_url, htmx (the request came from htmx), request."""
    rt: Runtime = request.app.state.runtime
    viewer = _viewer(request)
    principal = viewer.principal if viewer else None
    now = rt.clock()
    tz = viewer_zone(rt, principal)
    key: bytes = request.app.state.web_key
    full: dict[str, Any] = {
        "request": request,
        "user": principal,
        "via": viewer.via if viewer else None,
        "can_act": principal is not None and role_allows(principal.role, "responder"),
        "csrf_token": csrf_token(key, viewer.binding) if viewer else "",
        "now": now,
        "tz": tz,
        "public_url": rt.settings.public_url,
        "htmx": request.headers.get("hx-request") == "true",
        "path": request.url.path,
    }
    full.update(context or {})
    token = _clock.set(_Clock(now, tz, full["csrf_token"]))
    try:
        html = ENV.get_template(template_name).render(full)
    finally:
        _clock.reset(token)
    return HTMLResponse(html, status_code, headers={**SECURITY_HEADERS, **(headers or {})})


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error for the viewer: htmx gets a fragment swapped into #flash (whatever the
    element's own target), a plain browser the error page with the message."""
    if request.headers.get("hx-request") == "true":
        return render(
            request,
            "_flash.html",
            {"error": message},
            status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return render(request, "error.html", {"error": message, "status": status}, status)
