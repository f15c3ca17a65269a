"""One error shape for every HTTP answer: RFC 9457 problem details.

    HTTP/1.1 422 Unprocessable Entity
    Content-Type: application/problem+json

    {"type": "about:blank", "title": "Unprocessable Entity", "status": 422,
     "detail": "must not contain the NUL character (\\u0000) or a lone surrogate",
     "field": "query.service"}

`field` (an extension member) names the input at fault where there is one: `body.note`,
`query.service`, `path.incident_id`, or a path inside a webhook body (`alerts[0].labels`).
The REST API, the webhook lane, the chat endpoints and the health endpoints all answer
their errors through this module. It sits in bot.runtime because bot.http and bot.chat are
sibling layers that cannot import each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

import orjson
from starlette.responses import Response
from starlette.types import Send

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"  # what a 503 tells senders (Alertmanager, Sentry, scripts)

# Members RFC 9457 defines; an extension must not shadow them.
_STANDARD = frozenset({"type", "title", "status", "detail", "instance"})


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    detail: str,
    field: str | None = None,
    extensions: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The problem details object. `type` stays about:blank: the status says what happened,
    `detail` says it for this request, `field` says where."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title_of(status),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    for name, value in (extensions or {}).items():
        if name in _STANDARD:
            raise ValueError(f"problem extension {name!r} shadows an RFC 9457 member")
        body[name] = value
    return body


def encode(body: Mapping[str, object]) -> bytes:
    return orjson.dumps(body)


def problem_response(
    status: int,
    detail: str,
    field: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, object] | None = None,
) -> Response:
    """A Starlette response carrying a problem (FastAPI routes and exception handlers)."""
    return Response(
        encode(problem(status, detail, field, extensions)),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def unavailable_response(detail: str, extensions: Mapping[str, object] | None = None) -> Response:
    """503 with Retry-After: the database (or another dependency) cannot answer now."""
    return problem_response(
        503, detail, headers={"Retry-After": RETRY_AFTER_SECONDS}, extensions=extensions
    )


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    field: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, object] | None = None,
) -> None:
    """The same answer from plain ASGI code (the webhook lane)."""
    await send_json(send, status, problem(status, detail, field, extensions), headers)


async def send_json(
    send: Send,
    status: int,
    content: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
) -> None:
    """A JSON answer from plain ASGI code; errors (4xx, 5xx) go as problem+json."""
    body = encode(content)
    media_type = PROBLEM_JSON if status >= 400 else "application/json"
    raw = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
