"""REST API for silences: GET|POST /api/v1/silences, DELETE /api/v1/silences/{id}."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, field_validator

from bot.http.api import Caller, runtime
from routing.basics.duration import DurationError, parse_duration
from routing.muting import silence_store
from routing.muting.matcher import MatcherError, parse_matchers
from routing.muting.silence import Silence

router = APIRouter(tags=["silences"])


class SilenceIn(BaseModel):
    """A new silence: matchers, and either `ends_at` or `duration` (from `starts_at` or now)."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[str]  # each a matcher or a {a="b", c=~"d"} list
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration: str | None = None  # "2h", "30m"
    comment: str = ""
    created_by: str | None = None

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

    def window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """(starts_at, ends_at), or None unless exactly one of ends_at and duration is given."""
        if (self.ends_at is None) == (self.duration is None):
            return None
        start = self.starts_at or now
        return start, self.ends_at or start + parse_duration(self.duration or "0s")


def _unprocessable(field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=422)


@router.get("/api/v1/silences")
def list_silences(request: Request, _caller: Caller) -> dict[str, Any]:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        views = silence_store.list_current(conn, rt.clock(), rt.settings.silences)
    return {"items": [view.item() for view in views]}


@router.post("/api/v1/silences", status_code=201, response_model=None)
def create_silence(request: Request, caller: Caller, body: SilenceIn) -> Any:
    rt = runtime(request)
    now = rt.clock()
    window = body.window(now)
    if window is None:
        return _unprocessable("body.ends_at", "give exactly one of ends_at and duration")
    starts_at, ends_at = window
    try:
        silence = Silence.model_validate(
            {
                "matchers": body.matchers,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "created_by": body.created_by or caller,
                "comment": body.comment,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "matchers"
        return _unprocessable(field, first["msg"].removeprefix("Value error, "))
    with rt.engine.begin() as conn:
        stored = silence_store.create(conn, silence, now)
        view = silence_store.get(conn, stored.id or "", now)
    return view.item()


@router.delete("/api/v1/silences/{silence_id}")
def delete_silence(request: Request, caller: Caller, silence_id: str) -> dict[str, Any]:
    rt = runtime(request)
    try:
        with rt.engine.begin() as conn:
            view = silence_store.expire(conn, silence_id, caller, rt.clock(), rt.settings.silences)
    except silence_store.SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (silence_store.SilenceReadOnly, silence_store.SilenceAlreadyExpired) as exc:
        raise HTTPException(409, str(exc)) from exc
    return view.item()
