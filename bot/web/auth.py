"""Who is looking at the page: a trusted proxy's user, a session cookie, or open access.

Pages depend on `PageViewer` (GET) and actions on `PageResponder` / `PageAdmin` (POST:
CSRF checked, then the role). Not logged in: 303 to /login (htmx requests: 401 with
HX-Redirect); a too-small role: 403 naming the role needed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from bot.config.identities import OPEN_ACCESS, Principal
from bot.http.identity import refused
from bot.runtime.state import Runtime
from bot.web import csrf
from bot.web.errors import LoginRequired, PageError
from bot.web.session import COOKIE, verify
from routing.oncall.people import Role, role_allows


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    # What the CSRF token is bound to: one login (its cookie signature), one proxy-named
    # user, or open access.
    binding: str
    via: str  # "session", "proxy" or "open": whether a Logout button makes sense


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def session_key(request: Request) -> bytes:
    key: bytes = request.app.state.web_key
    return key


def peer_trusted(
    peer: str | None, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """The TCP peer (never a forwarded address) is one of `proxies`."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def identify_viewer(request: Request) -> Viewer | None:
    """Who the request comes from, or None (log in first). A proxy naming an unknown user
    is refused (403): the proxy authenticated someone firebell does not know."""
    rt = runtime(request)
    web = rt.settings.web
    header = web.trusted_user_header
    if header and peer_trusted(
        request.client.host if request.client else None, web.trusted_proxies
    ):
        name = request.headers.get(header, "").strip()
        if name:
            user = rt.settings.users_by_name.get(name)
            if user is None:
                raise PageError(
                    403,
                    f"the proxy names user {name!r} (header {header}), who is not defined "
                    "under users: in firebell's config",
                )
            return Viewer(Principal(name, user.role, name), f"proxy\0{name}", "proxy")
    session = verify(
        session_key(request),
        request.cookies.get(COOKIE),
        rt.clock(),
        rt.settings.api_principals(),
    )
    if session is not None:
        return Viewer(session.principal, f"session\0{session.signature}", "session")
    if rt.open_access:
        return Viewer(OPEN_ACCESS, "open", "open")
    return None


def safe_next(path: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect).
    Browsers drop tabs and newlines from a URL and read `\\` as `/`, so `/\\t/evil` or
    `/\\evil` would become `//evil` (another host): any control character, space or
    backslash sends the person to `/` instead."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/"
    if "\\" in path or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in path):
        return "/"
    return path


def _viewer(request: Request) -> Viewer:
    viewer = identify_viewer(request)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.web_viewer = viewer
    return viewer


def page_viewer(request: Request) -> Principal:
    return _viewer(request).principal


def _acting(role: Role, action: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        viewer = _viewer(request)
        await csrf.check(request, session_key(request), viewer.binding)
        if not role_allows(viewer.principal.role, role):
            raise PageError(403, refused(viewer.principal, role, action))
        return viewer.principal

    return dependency


page_responder = _acting("responder", "changing incidents, silences or playbook runs")
page_admin = _acting("admin", "this")

# GET pages and fragments.
PageViewer = Annotated[Principal, Depends(page_viewer)]
# POST actions: logged in, CSRF checked, role >= responder (admin).
PageResponder = Annotated[Principal, Depends(page_responder)]
PageAdmin = Annotated[Principal, Depends(page_admin)]


def login_redirect(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")
