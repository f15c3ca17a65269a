"""The OpenAPI document at /openapi.json (and /docs): FastAPI's generated schema, made to
say what the server does.

- Every error answer of every operation is a `Problem` (RFC 9457, application/problem+json),
  FastAPI's own 422 model included.
- `/api/*` operations carry the bearer scheme (so /docs has a working Authorize button)
  and document 401 and 503.
- The webhooks, served by the plain-ASGI lane outside FastAPI's router, are added by hand
  (bot.http.openapi_webhooks) with their own authentication.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from bot.http.openapi_webhooks import webhook_paths
from bot.http.problem_docs import (
    DESCRIPTIONS,
    FIELD_ERROR_SCHEMA,
    PROBLEM_SCHEMA,
    openapi_problem,
)

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "One of `api_tokens` (or a source's own token, for its webhook)",
    },
    "alertmanagerBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "sources.alertmanager.basic_auth (Alertmanager's http_config)",
    },
    "sentrySignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Sentry-Hook-Signature",
        "description": (
            "HMAC-SHA256 (hex) of the raw body with sources.sentry.client_secret; "
            "Sentry-Hook-Timestamp must be within 5 minutes of now"
        ),
    },
}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Problems everywhere, security on /api, and the webhook lane's operations."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    paths: dict[str, Any] = schema.setdefault("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path.startswith("/api/"):
                operation["security"] = [{"bearerAuth": []}]
                responses.setdefault("401", openapi_problem(401))
                if method != "get":  # writes need the responder role (bot.http.identity)
                    responses.setdefault("403", openapi_problem(403))
                responses.setdefault("503", openapi_problem(503))
            if "requestBody" in operation:  # not JSON or not UTF-8; too large
                responses.setdefault("400", openapi_problem(400))
                responses.setdefault("413", openapi_problem(413))
            for code in list(responses):
                if code[0] in "45":
                    responses[code] = openapi_problem(int(code), responses[code].get("description"))
            if "422" in responses:
                responses["422"]["description"] = DESCRIPTIONS[422]
    paths.update(webhook_paths())
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
