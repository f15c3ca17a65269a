"""OpenAPI operations for the webhook lane (bot.http.webhooks): it serves them in plain
ASGI, outside FastAPI's router, so they are described here, as the lane answers them."""

from __future__ import annotations

from typing import Any

from bot.http.problem_docs import openapi_problem

ACCEPTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "inbox_id", "alerts", "decisions"],
    "properties": {
        "status": {"type": "string", "enum": ["accepted"]},
        "inbox_id": {"type": "integer", "description": "the stored raw body (inbox row)"},
        "alerts": {"type": "integer", "description": "alerts parsed from the body"},
        "decisions": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "alerts per decision: new, repeat, resolved, reopened, ...",
        },
        "note": {"type": "string"},
        "unparsed_lines": {"type": "integer", "description": "nginx lines kept, not parsed"},
    },
    "additionalProperties": True,
}

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

ALERTMANAGER_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Alertmanager webhook_config body, version 4 (version 3 is accepted too)",
    "required": ["alerts"],
    "properties": {
        "version": {"type": "string"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": STRING_MAP,
        "commonLabels": STRING_MAP,
        "commonAnnotations": STRING_MAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["labels"],
                "properties": {
                    "status": {"type": "string", "enum": ["firing", "resolved"]},
                    "labels": STRING_MAP,
                    "annotations": STRING_MAP,
                    "startsAt": {"type": "string", "format": "date-time"},
                    "endsAt": {"type": "string", "format": "date-time"},
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string"},
                },
            },
        },
    },
}

GENERIC_ALERT: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "severity": {"type": "string", "enum": ["critical", "error", "warning", "info"]},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "service": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "description": {"type": "string"},
        "fingerprint": {"type": "string"},
        "source_url": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
    },
}

GENERIC_BODY: dict[str, Any] = {
    "description": 'one alert, an array of alerts, or {"alerts": [...]}',
    "oneOf": [
        GENERIC_ALERT,
        {"type": "array", "items": GENERIC_ALERT},
        {
            "type": "object",
            "required": ["alerts"],
            "properties": {"alerts": {"type": "array", "items": GENERIC_ALERT}},
        },
    ],
}

SENTRY_BODY: dict[str, Any] = {
    "type": "object",
    "description": (
        "Sentry Integration Platform delivery; its shape depends on Sentry-Hook-Resource "
        "(issue, event_alert, error, metric_alert; other resources are recorded with a note)"
    ),
    "properties": {
        "action": {"type": "string"},
        "data": {"type": "object"},
        "installation": {"type": "object"},
        "actor": {"type": "object"},
    },
}

NGINX_LINE_RECORD = {
    "type": "object",
    "description": "a log shipper's record: the raw line under line, message or log",
    "properties": {"line": {"type": "string"}, "message": {"type": "string"}},
}


def _header(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def _responses(*errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "202": {
            "description": "Stored (committed) and decided",
            "content": {"application/json": {"schema": ACCEPTED_SCHEMA}},
        }
    }
    for status in (*errors, 401, 413, 503):
        responses[str(status)] = openapi_problem(status)
    return responses


def _operation(
    summary: str,
    description: str,
    content: dict[str, Any],
    security: list[dict[str, list[str]]],
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["webhooks"],
            "summary": summary,
            "description": description,
            "operationId": "webhook_" + summary.lower().replace(" ", "_"),
            "security": security,
            "parameters": parameters or [],
            "requestBody": {"required": True, "content": content},
            "responses": _responses(400, 422),
        }
    }


BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def webhook_paths() -> dict[str, Any]:
    """Paths of the webhook lane, to merge into the generated schema."""
    return {
        "/webhooks/alertmanager": _operation(
            "Alertmanager",
            "Alertmanager's webhook_config. Authenticated by http_config: a bearer token "
            "(sources.alertmanager.bearer_token, else one of api_tokens) or basic_auth.",
            {"application/json": {"schema": ALERTMANAGER_BODY}},
            [{"bearerAuth": []}, {"alertmanagerBasic": []}],
        ),
        "/webhooks/sentry": _operation(
            "Sentry",
            "Sentry Integration Platform webhooks, signed with the client secret; a "
            "timestamp more than 5 minutes from now is a replay and refused with 401.",
            {"application/json": {"schema": SENTRY_BODY}},
            [{"sentrySignature": []}],
            [
                _header("Sentry-Hook-Resource", "issue, event_alert, error, metric_alert, ..."),
                _header("Sentry-Hook-Timestamp", "Unix seconds, within 5 minutes of now"),
            ],
        ),
        "/webhooks/sentry/legacy/{token}": _operation(
            "Sentry legacy",
            "Sentry's legacy WebHooks plugin, which cannot sign: the URL carries "
            "sources.sentry.legacy_token.",
            {"application/json": {"schema": {"type": "object"}}},
            [],
            [
                {
                    "name": "token",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[^/]+$"},
                    "description": "sources.sentry.legacy_token",
                }
            ],
        ),
        "/webhooks/nginx": _operation(
            "Nginx",
            "Nginx error.log lines as text, or JSON records from a log shipper (one, an "
            "array, or NDJSON). Bearer: sources.nginx.token, else one of api_tokens.",
            {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "oneOf": [
                            NGINX_LINE_RECORD,
                            {"type": "array", "items": NGINX_LINE_RECORD},
                        ]
                    }
                },
            },
            BEARER,
        ),
        "/webhooks/generic": _operation(
            "Generic",
            "firebell's own JSON alert shape. Bearer: sources.generic.token, else one of "
            "api_tokens.",
            {"application/json": {"schema": GENERIC_BODY}},
            BEARER,
        ),
    }
