"""Receive step, HTTP half: authenticate, size-limit, parse, hand to the intake, answer
202 only after commit. Bad input is a 4xx naming the problem; a database outage is a
503 with Retry-After so Alertmanager and Sentry retry.

Webhooks are the hot path of an alert storm, so they are served by a plain ASGI lane in
front of FastAPI's router: its routing, dependency and exception layers cost more per
request than everything below does. Routes are documented in the README.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.http.auth import basic_allowed, bearer_token, token_allowed
from bot.runtime.bodies import BodyTooLarge, ClientGone, read_body
from bot.runtime.intake_writer import DatabaseUnavailable, IntakeUnavailable
from bot.runtime.problems import RETRY_AFTER_SECONDS, problem, send_json
from bot.runtime.state import Runtime
from integrations.sources import SOURCES, PayloadError
from integrations.sources.base import AlertRefused, ParseResult
from integrations.sources.payload import header
from integrations.sources.sentry_signature import (
    TIMESTAMP_HEADER,
    TIMESTAMP_WINDOW,
    timestamp_fresh,
    verify_sentry_signature,
)
from routing.intake.dedup import DecisionKind
from routing.intake.submission import Submission
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.webhooks")

PREFIX = "/webhooks/"
SENTRY_LEGACY = "/webhooks/sentry/legacy/"


@dataclass(slots=True)
class Inbound:
    """What a webhook handler gets of its request."""

    headers: dict[str, str]  # lower-case names
    body: bytes
    request_id: str


@dataclass(slots=True)
class Answer:
    status: int
    content: dict[str, object]
    headers: dict[str, str] | None = None


def error(
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: Mapping[str, object] | None = None,
) -> Answer:
    """A refusal, as problem details (bot.runtime.problems): the one error shape."""
    return Answer(status, problem(status, message, field, extensions), headers)


def unavailable(detail: str = "database unavailable, retry later") -> Answer:
    retry = {"Retry-After": RETRY_AFTER_SECONDS}
    return error(503, detail, None, retry)


# True: allowed; False: refused as bad credentials; a string: refused, with that message.
Authorizer = Callable[[Mapping[str, str], bytes], bool | str]
Handler = Callable[[Runtime, Inbound, str], Awaitable[Answer]]  # (runtime, request, token)


async def receive(rt: Runtime, inbound: Inbound, source_name: str, authorize: Authorizer) -> Answer:
    metrics = rt.metrics
    headers, body = inbound.headers, inbound.body
    verdict = authorize(headers, body)
    if verdict is not True:
        metrics.rejected.labels(source_name, "unauthorized").inc()
        message = verdict if isinstance(verdict, str) else "missing or invalid credentials"
        return error(401, message, headers={"WWW-Authenticate": "Bearer"})
    source = SOURCES[source_name]
    try:
        result = source.parse(body, headers, rt.settings.source_options(source_name))
    except AlertRefused as exc:  # the body's only alert: refused, the body still kept
        result = ParseResult([], refused=[exc])
    except PayloadError as exc:
        metrics.rejected.labels(source_name, "invalid").inc()
        return error(exc.status_code, exc.message, exc.field)
    submission = Submission(
        source=source_name,
        alerts=result.alerts,
        body=body,
        content_type=headers.get("content-type", ""),
        request_id=inbound.request_id,  # the sender's X-Request-ID when it sent one
        note=result.inbox_note(),
        unparsed=result.unparsed,
        comments=result.comments,
    )
    try:
        outcome = await rt.intake.submit(submission)
    except DatabaseUnavailable:
        metrics.rejected.labels(source_name, DatabaseUnavailable.reason).inc()
        return unavailable()
    except IntakeUnavailable as exc:  # queue full, not stored in time, writer down
        metrics.rejected.labels(source_name, exc.reason).inc()
        return unavailable(f"{exc}, retry later")
    metrics.received.labels(source_name).inc(len(result.alerts))
    if result.unparsed:
        metrics.unparsed.labels(source_name).inc(result.unparsed)
    counts: dict[str, int] = {}
    for alert in outcome.alerts:
        counts[alert.kind.value] = counts.get(alert.kind.value, 0) + 1
    for kind, count in counts.items():
        metrics.decisions.labels(source_name, kind).inc(count)
    if counts.get(DecisionKind.REPEAT.value):
        metrics.deduplicated.labels(source_name).inc(counts[DecisionKind.REPEAT.value])
    response: dict[str, object] = {
        "status": "accepted",
        "inbox_id": outcome.inbox_id,
        "alerts": len(result.alerts),
        "decisions": counts,
    }
    if result.note:
        response["note"] = result.note
    if result.unparsed:
        response["unparsed_lines"] = result.unparsed
    if result.refused:
        metrics.rejected.labels(source_name, "alert_refused").inc()
        return partly_refused(result.refused, response)
    return Answer(202, response)


def partly_refused(refused: list[AlertRefused], stored: dict[str, object]) -> Answer:
    """422 naming each refused alert's field; what was stored of the body (its other
    alerts, the raw body) is in `accepted`, so a sender's retry would change nothing."""
    fields = ", ".join(exc.field for exc in refused)
    accepted = {k: v for k, v in stored.items() if k != "status"}
    details = [{"field": exc.field, "detail": exc.message} for exc in refused]
    message = f"{len(refused)} alert(s) refused ({fields}): {refused[0].message}"
    return error(
        422, message, refused[0].field, extensions={"refused": details, "accepted": accepted}
    )


def _bearer(allowed: list[str], open_access: bool) -> Authorizer:
    def check(headers: Mapping[str, str], _body: bytes) -> bool:
        return open_access or token_allowed(bearer_token(headers), allowed)

    return check


def _tokens(rt: Runtime, own: str | None) -> list[str]:
    # A source's own token, else api_tokens (machines, and people who may write).
    return [own] if own else rt.settings.intake_tokens()


async def alertmanager_webhook(rt: Runtime, inbound: Inbound, _token: str) -> Answer:
    """Alertmanager `webhook_config` (version 4, and version 3 bodies)."""
    conf = rt.settings.sources.alertmanager
    tokens = _tokens(rt, conf.bearer_token)
    basic = conf.basic_auth

    def authorize(headers: Mapping[str, str], _body: bytes) -> bool:
        if rt.open_access and not conf.bearer_token and basic is None:
            return True
        if basic is not None and basic_allowed(headers, basic.username, basic.password):
            return True
        return token_allowed(bearer_token(headers), tokens)

    return await receive(rt, inbound, "alertmanager", authorize)


async def sentry_webhook(rt: Runtime, inbound: Inbound, _token: str) -> Answer:
    """Sentry Integration Platform webhooks, verified by Sentry-Hook-Signature and
    refused when Sentry-Hook-Timestamp is not within 5 minutes of now (replays)."""
    conf = rt.settings.sources.sentry
    secret = conf.client_secret

    def authorize(headers: Mapping[str, str], body: bytes) -> bool | str:
        if secret is None:
            return rt.open_access
        if not verify_sentry_signature(body, headers, secret):
            return False
        if not timestamp_fresh(header(headers, TIMESTAMP_HEADER), rt.clock(), TIMESTAMP_WINDOW):
            minutes = int(TIMESTAMP_WINDOW.total_seconds() // 60)
            return (
                f"missing, unparsable or stale {TIMESTAMP_HEADER} header "
                f"(must be Unix seconds within {minutes} minutes of now)"
            )
        return True

    return await receive(rt, inbound, "sentry", authorize)


async def sentry_legacy_webhook(rt: Runtime, inbound: Inbound, token: str) -> Answer:
    """Sentry's legacy WebHooks plugin (it cannot sign: the URL carries the token)."""
    conf = rt.settings.sources.sentry
    allowed = [conf.legacy_token] if conf.legacy_token else []

    def authorize(_headers: Mapping[str, str], _body: bytes) -> bool:
        if not allowed:
            return rt.open_access
        return token_allowed(token, allowed)

    return await receive(rt, inbound, "sentry-legacy", authorize)


async def nginx_webhook(rt: Runtime, inbound: Inbound, _token: str) -> Answer:
    """Nginx error.log lines as text, or JSON from a log shipper (`line`/`message`)."""
    conf = rt.settings.sources.nginx
    authorize = _bearer(_tokens(rt, conf.token), rt.open_access and not conf.token)
    return await receive(rt, inbound, "nginx", authorize)


async def generic_webhook(rt: Runtime, inbound: Inbound, _token: str) -> Answer:
    """firebell's own JSON shape (see integrations/sources/generic.py)."""
    conf = rt.settings.sources.generic
    authorize = _bearer(_tokens(rt, conf.token), rt.open_access and not conf.token)
    return await receive(rt, inbound, "generic", authorize)


ROUTES: dict[str, Handler] = {
    "/webhooks/alertmanager": alertmanager_webhook,
    "/webhooks/sentry": sentry_webhook,
    "/webhooks/nginx": nginx_webhook,
    "/webhooks/generic": generic_webhook,
}


def find_route(path: str) -> tuple[str, Handler, str] | None:
    """(route template for metrics, handler, URL token) for a webhook path."""
    path = path.rstrip("/") or path
    handler = ROUTES.get(path)
    if handler is not None:
        return path, handler, ""
    if path.startswith(SENTRY_LEGACY):
        token = path[len(SENTRY_LEGACY) :]
        if token and "/" not in token:
            # The template, never the token, goes into metric labels.
            return SENTRY_LEGACY + "{token}", sentry_legacy_webhook, token
    return None


class WebhookLane:
    """Plain ASGI middleware serving `POST /webhooks/...`; all else goes to `app`."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        route = find_route(scope["path"])
        if route is None:
            await respond(send, error(404, f"no such webhook: {scope['path']}"))
            return
        template, handler, token = route
        scope["firebell.route"] = template
        if scope["method"] != "POST":
            await respond(send, error(405, "method not allowed: use POST", None, {"Allow": "POST"}))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.rt.settings.max_body_bytes
        try:
            body = await read_body(receive, headers, limit)
        except BodyTooLarge as exc:
            self.rt.metrics.rejected.labels(_source_of(template), "too_large").inc()
            await respond(send, error(413, str(exc)))
            return
        except ClientGone:
            return
        request_id = scope.get("state", {}).get("request_id", "")
        try:
            answer = await handler(self.rt, Inbound(headers, body, request_id), token)
        except Exception as exc:
            if not is_unavailable(exc):
                raise  # ServerErrorMiddleware logs it and answers 500
            answer = unavailable()
        await respond(send, answer)


async def respond(send: Send, answer: Answer) -> None:
    await send_json(send, answer.status, answer.content, answer.headers)


def _source_of(template: str) -> str:
    return "sentry-legacy" if template.startswith(SENTRY_LEGACY) else template[len(PREFIX) :]
