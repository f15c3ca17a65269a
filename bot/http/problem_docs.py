"""The `Problem` schema and OpenAPI response objects for error answers, shared by the
routes' `responses=` and the schema hook (bot.http.openapi)."""

from __future__ import annotations

from typing import Any

from bot.runtime.problems import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "required": ["field", "detail"],
    "properties": {
        "field": {"type": "string", "description": "e.g. body.matchers.0, query.limit"},
        "detail": {"type": "string"},
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details, the shape of every error answer. `field` names the "
        "input at fault (`body.note`, `query.service`, `path.incident_id`, or a path in a "
        "webhook body such as `alerts[0].labels`); a 422 from request validation lists "
        "every refused input in `errors`."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "always about:blank: the status says it"},
        "title": {"type": "string", "description": "the HTTP status phrase"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what was wrong with this request"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Unparsable request",
    401: "Missing or invalid credentials",
    403: "The credentials may not do this",
    404: "No such resource",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Body larger than max_body_bytes",
    422: "Invalid input; `field` names it",
    503: "Database unavailable; retry after Retry-After seconds",
}

_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    503: {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}},
}


def openapi_problem(status: int, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI response object whose body is a Problem."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def openapi_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a route decorator's `responses=`: the errors this operation can answer."""
    return {status: openapi_problem(status) for status in statuses}
