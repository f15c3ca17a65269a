"""Cross-site request forgery: an unsafe request must come from this site (Sec-Fetch-Site
or Origin) AND carry the form token bound to the viewer's login (`csrf` form field, or
the X-CSRF-Token header htmx requests get from app.js).

Browsers send Sec-Fetch-Site (and Origin) on every cross-site POST, so a forged form is
refused by the first check; the token also covers clients that send neither header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from bot.web.errors import PageError
from bot.web.session import csrf_valid

FIELD = "csrf"
HEADER = "X-CSRF-Token"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: Request, public_url: str | None) -> set[str]:
    """This site as the browser sees it: the Host it asked for, and the public_url (behind
    a TLS-terminating proxy the request itself arrives as http)."""
    host = request.headers.get("host", "")
    origins = {f"{scheme}://{host}".lower() for scheme in (request.url.scheme,)}
    if public_url:
        origins.add(_origin_of(public_url))
    return origins


def site_problem(sec_fetch_site: str | None, origin: str | None, own: set[str]) -> str | None:
    """Why the request is not same-origin, or None. Pure: headers in, verdict out."""
    if sec_fetch_site is not None:
        if sec_fetch_site.lower() in ("same-origin", "none"):
            return None
        return f"cross-site request refused (Sec-Fetch-Site: {sec_fetch_site})"
    if origin is not None:
        if origin.lower() in own:
            return None
        return f"cross-site request refused (Origin {origin} is not this site)"
    return None


async def check(request: Request, key: bytes, binding: str) -> None:
    """Raise PageError(403) unless the request is same-site and carries the token."""
    problem = site_problem(
        request.headers.get("sec-fetch-site"),
        request.headers.get("origin"),
        own_origins(request, request.app.state.runtime.settings.public_url),
    )
    if problem:
        raise PageError(403, problem)
    given = request.headers.get(HEADER)
    if given is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get(FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_valid(key, binding, given):
        raise PageError(
            403,
            "the form's security token is missing or stale: reload the page and try again",
        )
