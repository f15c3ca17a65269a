"""The web page for the people on call (issue 13): server-rendered Jinja2, htmx, one SSE
stream. `install_web(app, rt)` adds the core (login, logout, /events, /static, error
handling) and the pages, which sit beside the REST API in the same app and call the same
service functions it does."""

from __future__ import annotations

import importlib
import logging
import secrets
from importlib import resources
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from bot.config.identities import Principal
from bot.http.auth import identify
from bot.runtime.state import Runtime
from bot.web import csrf
from bot.web.auth import PageViewer, identify_viewer, login_redirect, safe_next
from bot.web.errors import LoginRequired, PageError
from bot.web.live import MAX_STREAMS, hub, stream
from bot.web.login_limit import LoginLimit
from bot.web.session import COOKIE, issue, session_key
from bot.web.templating import duration, render, render_error

log = logging.getLogger("firebell.web")

# The pages (other modules of this package): each has `router`; installed when present.
PAGE_MODULES = (
    "bot.web.incident_list",
    "bot.web.incident_page",
    "bot.web.incident_actions",
    "bot.web.oncall_page",
    "bot.web.silences_page",
    "bot.web.reports_page",
)


def install_web(app: FastAPI, rt: Runtime) -> None:
    settings = rt.settings
    tokens = [token for token, _ in settings.api_principals()]
    # Open access with no secret: a per-process key (nobody logs in; it binds CSRF tokens).
    app.state.web_key = session_key(settings.web.session_secret, tokens) or secrets.token_bytes(32)
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(PageError, _page_error)  # type: ignore[arg-type]
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("bot.web") / "static")),
        name="static",
    )
    _core_routes(app, rt)
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        app.include_router(module.router)


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    target = login_redirect(exc.next_path)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _page_error(request: Request, exc: PageError) -> Response:
    return render_error(request, exc.status, exc.message)


def _secure(request: Request, rt: Runtime) -> bool:
    public = rt.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _core_routes(app: FastAPI, rt: Runtime) -> None:
    ttl = rt.settings.web.ttl_seconds
    limit = LoginLimit()

    def login_page(
        request: Request, next_path: str, error: str = "", status: int = 200
    ) -> Response:
        return render(
            request,
            "login.html",
            {"next": safe_next(next_path), "ttl": duration(ttl), "error": error},
            status,
        )

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        viewer = identify_viewer(request)
        if viewer is not None and viewer.via != "open":
            return RedirectResponse(safe_next(next), status_code=303)
        return login_page(request, next)

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=4096)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        # Login CSRF (being logged in as someone else): same-site requests only.
        problem = csrf.site_problem(
            request.headers.get("sec-fetch-site"),
            request.headers.get("origin"),
            csrf.own_origins(request, rt.settings.public_url),
        )
        if problem:
            raise PageError(403, problem)
        peer = request.client.host if request.client else "unknown"
        wait = limit.wait(peer, rt.clock())
        if wait is not None:
            log.warning("web login refused: too many wrong tokens", extra={"peer": peer})
            answer = login_page(
                request,
                next,
                "token: too many wrong tokens from your address; "
                f"try again in {duration(max(wait.total_seconds(), 1))}",
                429,
            )
            answer.headers["Retry-After"] = str(max(1, int(wait.total_seconds())))
            return answer
        principal: Principal | None = identify(token.strip() or None, rt.settings.api_principals())
        if principal is None:
            limit.failed(peer, rt.clock())
            log.info("web login refused: unknown token")
            return login_page(request, next, "token: not a token firebell knows", 401)
        if principal.user is None:
            return login_page(
                request,
                next,
                f"token: this is the machine token {principal.name!r}; log in with your "
                "personal token (an api_tokens entry with `user:`)",
                403,
            )
        cookie = issue(app.state.web_key, principal.user, token.strip(), rt.clock(), ttl)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=ttl,
            httponly=True,
            samesite="lax",
            secure=_secure(request, rt),
            path="/",
        )
        log.info("web login", extra={"user": principal.user})
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        viewer = identify_viewer(request)
        if viewer is not None:
            await csrf.check(request, app.state.web_key, viewer.binding)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @app.get("/events", include_in_schema=False)
    async def events(request: Request, _viewer: PageViewer) -> Response:
        live = hub(rt)
        if len(live.subscribers) >= MAX_STREAMS:
            raise PageError(503, "too many live pages open: this page falls back to polling")
        return StreamingResponse(
            stream(rt, live),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
