"""REST API for silences: GET|POST /api/v1/silences, DELETE /api/v1/silences/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.responses import Response

from bot.http.api import runtime
from bot.http.errors import validation_errors
from bot.http.fields import CALENDAR, Instant, Text, within_calendar
from bot.http.identity import Reader, RefusedActorField, Responder
from bot.http.problem_docs import openapi_problems
from bot.runtime.problems import problem_response
from routing.basics.duration import DurationError, parse_duration
from routing.muting import silence_store
from routing.muting.matcher import MatcherError, parse_matchers
from routing.muting.silence import Recurrence, Silence, recurrence_problem
from routing.paging.silenced_pages import store_silence

router = APIRouter(tags=["silences"])


class SilenceIn(BaseModel):
    """A new silence: matchers, and either `ends_at` or `duration` (from `starts_at` or now).

    With `recurrence` (the config's grammar: weekdays, times, time_zone) it mutes only
    inside those weekly windows, from `starts_at` (or now) until `ends_at` or `duration`
    when given, else until someone ends it.
    """

    model_config = ConfigDict(
        extra="forbid",
        # Shown in /docs, and sent as-is by the schemathesis contract test.
        json_schema_extra={
            "examples": [{"matchers": ['service="api"'], "duration": "2h", "comment": "deploy"}]
        },
    )

    matchers: list[Text]  # each a matcher or a {a="b", c=~"d"} list
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    duration: Text | None = None  # "2h", "30m"
    comment: Text = ""
    created_by: RefusedActorField = None  # the caller creates it, not a name in the body
    recurrence: Recurrence | None = None

    @field_validator("matchers", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, items: list[str]) -> list[str]:
        for item in items:
            try:
                parse_matchers(item)
            except MatcherError as exc:
                raise ValueError(str(exc)) from None
        return items

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                length = parse_duration(value)
            except DurationError as exc:
                raise ValueError(f"{exc} (write e.g. 30m, 2h, 1d)") from None
            if length <= timedelta(0):
                raise ValueError("must be longer than 0s")
        return value

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None] | None:
        """(starts_at, ends_at), or None unless exactly one of ends_at and duration is
        given (at most one for a recurring silence, which may run until ended)."""
        if self.ends_at is not None and self.duration is not None:
            return None
        start = self.starts_at or now
        if self.ends_at is None and self.duration is None:
            return (self.starts_at, None) if self.recurrence is not None else None
        if self.ends_at is not None:
            return start, self.ends_at
        try:
            return start, start + parse_duration(self.duration or "0s")
        except OverflowError:  # past year 9999: refused by the caller, as past LATEST is
            return start, datetime.max.replace(tzinfo=UTC)


def _unprocessable(field: str, message: str) -> Response:
    return problem_response(422, message, field)


@router.get("/api/v1/silences")
def list_silences(request: Request, _caller: Reader) -> dict[str, Any]:
    rt = runtime(request)
    with rt.read_engine.connect() as conn:
        views = silence_store.list_current(conn, rt.clock(), rt.settings.silences)
    return {"items": [view.item() for view in views]}


def new_silence(body: SilenceIn, creator: str, now: datetime) -> Silence | tuple[str, str]:
    """The silence `creator` asks for, or (the body field at fault, why): shared by the
    API and the web page so both refuse and attribute alike."""
    window = body.window(now)
    if window is None:
        return "ends_at", "give exactly one of ends_at and duration"
    starts_at, ends_at = window
    if ends_at is not None and not within_calendar(ends_at):
        return "duration", f"the silence must end {CALENDAR}"
    if body.recurrence is not None:
        problem = recurrence_problem(body.recurrence, starts_at or now, ends_at)
        if problem is not None:
            return "recurrence", problem
    try:
        return Silence.model_validate(
            {
                "matchers": body.matchers,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "created_by": creator,
                "comment": body.comment,
                "recurrence": body.recurrence,
            }
        )
    except ValidationError as exc:
        first = validation_errors(exc.errors())[0]
        # The silence's fields are the body's; its whole-model check is about the window.
        return first["field"] or "ends_at", first["detail"]


@router.post("/api/v1/silences", status_code=201, response_model=None)
def create_silence(request: Request, caller: Responder, body: SilenceIn) -> Any:
    rt = runtime(request)
    now = rt.clock()
    silence = new_silence(body, caller.name, now)
    if not isinstance(silence, Silence):
        field, message = silence
        return _unprocessable(f"body.{field}", message)
    with rt.engine.begin() as conn:
        stored, _ = store_silence(conn, silence, now)
        view = silence_store.get(conn, stored.id or "", now)
    return view.item()


@router.delete("/api/v1/silences/{silence_id}", responses=openapi_problems(404, 409))
def delete_silence(request: Request, caller: Responder, silence_id: Text) -> dict[str, Any]:
    rt = runtime(request)
    try:
        with rt.engine.begin() as conn:
            view = silence_store.expire(
                conn, silence_id, caller.name, rt.clock(), rt.settings.silences
            )
    except silence_store.SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (silence_store.SilenceReadOnly, silence_store.SilenceAlreadyExpired) as exc:
        raise HTTPException(409, str(exc)) from exc
    return view.item()
