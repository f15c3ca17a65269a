"""The FastAPI application: routers, the webhook lane, request context and error handlers.

What runs beside it (intake writer, workers, chat) is the composition root's job (bot.roles).
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.http import api, approvals_api, playbooks_api, reports_api, silences_api, webhooks
from bot.http.body_limit import BodyLimit
from bot.http.errors import install_error_handlers
from bot.http.openapi import install_openapi
from bot.runtime.logs import request_id_var
from bot.runtime.metrics import Metrics
from bot.runtime.state import CannotStart, Runtime

log = logging.getLogger("firebell.app")


class InsecureBinding(CannotStart):
    """No credentials are configured and the server would listen beyond loopback."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def has_credentials(settings: Settings) -> bool:
    src = settings.sources
    return bool(
        settings.api_tokens
        or src.alertmanager.bearer_token
        or src.alertmanager.basic_auth
        or src.sentry.client_secret
        or src.nginx.token
        or src.generic.token
    )


def http_app(rt: Runtime) -> FastAPI:
    """The HTTP face of a process: REST routers, the webhook lane, request context and
    error handlers. Its lifespan runs whatever the role added to `rt.lifecycle`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with rt.lifecycle.running():
            yield

    app = FastAPI(
        title="firebell",
        version="0.1.0",
        description="Self-hosted incident response and alert routing",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.include_router(api.router)
    app.include_router(silences_api.router)
    app.include_router(playbooks_api.router)
    app.include_router(approvals_api.router)
    app.include_router(reports_api.router)
    # Behind the webhook lane, which caps its own bodies: the REST API and chat endpoints.
    app.add_middleware(BodyLimit, limit=rt.settings.max_body_bytes)
    # Receive step (webhooks) in its own plain-ASGI lane, inside the request context.
    app.add_middleware(webhooks.WebhookLane, runtime=rt)
    _install_middleware(app, rt.metrics)
    install_error_handlers(app)
    install_openapi(app)
    return app


def _install_middleware(app: FastAPI, metrics: Metrics) -> None:
    app.add_middleware(RequestContext, metrics=metrics)


# A random per-process prefix and a counter: unique across replicas and restarts like
# a uuid4, without a getrandom() syscall on every request.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


class RequestContext:
    """Request id (X-Request-ID in and out, and on every log line), latency metric and a
    log line for failed requests. Plain ASGI: BaseHTTPMiddleware costs milliseconds."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("firebell.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
        request_id = request_id or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("firebell.route") or getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            if status >= 400:
                self.log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
