"""Receive step, HTTP half: authenticate, size-limit, parse, hand to the intake, answer
202 only after commit. Bad input is a 4xx naming the problem; a database outage is a
503 with Retry-After so Alertmanager and Sentry retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.auth import basic_allowed, bearer_token, token_allowed
from bot.intake import DatabaseUnavailable
from bot.runtime import Runtime
from integrations.sources import SOURCES, PayloadError, SourceOptions
from integrations.sources.sentry import verify_sentry_signature
from routing.dedup import DecisionKind
from routing.ingest import Submission

log = logging.getLogger("firebell.webhooks")
router = APIRouter(tags=["webhooks"])

RETRY_AFTER_SECONDS = "5"


class BodyTooLarge(Exception):
    pass


def error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    content: dict[str, str] = {"error": message}
    if field is not None:
        content["field"] = field
    return JSONResponse(content, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


Authorizer = Callable[[Mapping[str, str], bytes], bool]


async def receive(
    request: Request, source_name: str, authorize: Authorizer, options: SourceOptions
) -> JSONResponse:
    rt: Runtime = request.app.state.runtime
    metrics = rt.metrics
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
    except BodyTooLarge:
        metrics.rejected.labels(source_name, "too_large").inc()
        return error(413, f"body exceeds {rt.settings.max_body_bytes} bytes")
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not authorize(headers, body):
        metrics.rejected.labels(source_name, "unauthorized").inc()
        return error(401, "missing or invalid credentials", headers={"WWW-Authenticate": "Bearer"})
    source = SOURCES[source_name]
    try:
        result = source.parse(body, headers, options)
    except PayloadError as exc:
        metrics.rejected.labels(source_name, "invalid").inc()
        return error(exc.status_code, exc.message, exc.field)
    submission = Submission(
        source=source_name,
        alerts=result.alerts,
        body=body,
        content_type=headers.get("content-type", ""),
        request_id=headers.get("x-request-id", "") or request.state.request_id,
        note=result.note,
        unparsed=result.unparsed,
    )
    try:
        outcome = await rt.intake.submit(submission)
    except DatabaseUnavailable:
        metrics.rejected.labels(source_name, "database_unavailable").inc()
        return error(
            503, "database unavailable, retry later", headers={"Retry-After": RETRY_AFTER_SECONDS}
        )
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
    return JSONResponse(response, status_code=202)


def _services(rt: Runtime, own: Mapping[str, str]) -> SourceOptions:
    # A source's own mapping wins over the global alias map.
    return SourceOptions(services={**rt.settings.services, **own})


def _bearer(allowed: list[str], open_access: bool) -> Authorizer:
    def check(headers: Mapping[str, str], _body: bytes) -> bool:
        return open_access or token_allowed(bearer_token(headers), allowed)

    return check


def _tokens(rt: Runtime, own: str | None) -> list[str]:
    return [own] if own else list(rt.settings.api_tokens)


@router.post("/webhooks/alertmanager", status_code=202)
async def alertmanager_webhook(request: Request) -> JSONResponse:
    """Alertmanager `webhook_config` (version 4, and version 3 bodies)."""
    rt: Runtime = request.app.state.runtime
    conf = rt.settings.sources.alertmanager
    tokens = _tokens(rt, conf.bearer_token)
    basic = conf.basic_auth

    def authorize(headers: Mapping[str, str], _body: bytes) -> bool:
        if rt.open_access and not conf.bearer_token and basic is None:
            return True
        if basic is not None and basic_allowed(headers, basic.username, basic.password):
            return True
        return token_allowed(bearer_token(headers), tokens)

    return await receive(request, "alertmanager", authorize, _services(rt, {}))


@router.post("/webhooks/sentry", status_code=202)
async def sentry_webhook(request: Request) -> JSONResponse:
    """Sentry Integration Platform webhooks, verified by Sentry-Hook-Signature."""
    rt: Runtime = request.app.state.runtime
    conf = rt.settings.sources.sentry
    secret = conf.client_secret

    def authorize(headers: Mapping[str, str], body: bytes) -> bool:
        if secret is None:
            return rt.open_access
        return verify_sentry_signature(body, headers, secret)

    return await receive(request, "sentry", authorize, _services(rt, conf.services))


@router.post("/webhooks/sentry/legacy/{token}", status_code=202)
async def sentry_legacy_webhook(request: Request, token: str) -> JSONResponse:
    """Sentry's legacy WebHooks plugin (it cannot sign: the URL carries the token)."""
    rt: Runtime = request.app.state.runtime
    conf = rt.settings.sources.sentry
    allowed = [conf.legacy_token] if conf.legacy_token else []

    def authorize(_headers: Mapping[str, str], _body: bytes) -> bool:
        if not allowed:
            return rt.open_access
        return token_allowed(token, allowed)

    return await receive(request, "sentry-legacy", authorize, _services(rt, conf.services))


@router.post("/webhooks/nginx", status_code=202)
async def nginx_webhook(request: Request) -> JSONResponse:
    """Nginx error.log lines as text, or JSON from a log shipper (`line`/`message`)."""
    rt: Runtime = request.app.state.runtime
    conf = rt.settings.sources.nginx
    authorize = _bearer(_tokens(rt, conf.token), rt.open_access and not conf.token)
    return await receive(request, "nginx", authorize, _services(rt, conf.services))


@router.post("/webhooks/generic", status_code=202)
async def generic_webhook(request: Request) -> JSONResponse:
    """firebell's own JSON shape (see integrations/sources/generic.py)."""
    rt: Runtime = request.app.state.runtime
    conf = rt.settings.sources.generic
    authorize = _bearer(_tokens(rt, conf.token), rt.open_access and not conf.token)
    return await receive(request, "generic", authorize, _services(rt, {}))
