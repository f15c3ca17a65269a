"""FastAPI's error answers in the one shape (bot.runtime.problems): request validation
(422 naming the field), HTTP exceptions from routes and the router itself (401, 404, 405,
409), an unavailable database (503 with Retry-After) and anything unexpected (500)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from bot.runtime.problems import problem_response, unavailable_response
from routing.storage.database import is_unavailable

log = logging.getLogger("firebell.app")


def field_of(location: Sequence[int | str]) -> str:
    """`("body", "matchers", 0)` -> `body.matchers.0`: where the input was refused."""
    return ".".join(str(part) for part in location)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {
            "field": field_of(e["loc"]),
            # pydantic prefixes a validator's own message; the reader does not need it.
            "detail": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors()) or [{"field": "", "detail": "invalid request"}]
        first = errors[0]
        return problem_response(422, first["detail"], first["field"], extensions={"errors": errors})

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_request: Request, exc: SQLAlchemyError) -> Response:
        if is_unavailable(exc):
            return unavailable_response("database unavailable, retry later")
        log.exception("database error", exc_info=exc)
        return problem_response(500, "internal error")

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware sends this, then re-raises: the traceback is
        # logged by the server, never sent to the client.
        if is_unavailable(exc):
            return unavailable_response("database unavailable, retry later")
        return problem_response(500, "internal error")
