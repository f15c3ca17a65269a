"""/silences: active, expiring within an hour and recently expired silences (with how many
open alerts each mutes now), a create form with a preview of the open alerts it would
match, and Expire on stored silences. Creating and expiring go through the same code as
the REST API (bot.http.silences_api.new_silence, routing.muting.silence_store)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from bot.config.identities import Principal
from bot.http.silences_api import new_silence
from bot.runtime.state import Runtime
from bot.web import live
from bot.web.auth import PageResponder, PageViewer, runtime
from bot.web.errors import PageError
from bot.web.silences_form import (
    CUSTOM,
    DURATIONS,
    SilenceForm,
    form_field,
    form_matchers,
    silence_request,
)
from bot.web.templating import render, viewer_zone
from routing.basics.storable import storable_text
from routing.muting import silence_store
from routing.muting.silence import Silence, SilenceState
from routing.muting.silence_matches import AlertMatches, muted_counts, open_alerts_matching
from routing.muting.silence_store import SilenceView
from routing.paging.silenced_pages import store_silence

router = APIRouter(include_in_schema=False)  # pages, not the REST API
EXPIRING_WITHIN = timedelta(hours=1)
ENDED_WITHIN = timedelta(days=1)
SECTIONS = ("list", "create")


@dataclass(frozen=True, slots=True)
class SilenceRow:
    view: SilenceView
    muting: AlertMatches | None  # None: not muting now (pending, between windows, ended)

    @property
    def stored(self) -> bool:
        return self.view.origin == "api"


def groups(
    current: list[SilenceView], ended: list[SilenceView], now: datetime
) -> dict[str, list[SilenceView]]:
    """Active (and pending), expiring within an hour, expired in the last day. Pure."""
    soon = now + EXPIRING_WITHIN
    expiring = [
        v
        for v in current
        if v.state is SilenceState.ACTIVE and v.silence.ends_at is not None
        and v.silence.ends_at <= soon
    ]  # fmt: skip
    ids = {v.id for v in expiring}
    return {
        "active": [v for v in current if v.id not in ids],
        "expiring": sorted(expiring, key=lambda v: v.silence.ends_at or now),
        "ended": ended,
    }


def _list_context(rt: Runtime, now: datetime) -> dict[str, Any]:
    config = rt.settings.silences
    with rt.read_engine.connect() as conn:
        current = silence_store.list_current(conn, now, config)
        ended = silence_store.list_ended(conn, now, now - ENDED_WITHIN, config)
        counts = muted_counts(conn, [v.silence for v in current], now)
    grouped = groups(current, ended, now)
    return {
        "groups": {
            name: [SilenceRow(v, counts.get(v.id)) for v in views]
            for name, views in grouped.items()
        }
    }


def _preview(rt: Runtime, form: SilenceForm) -> tuple[AlertMatches | None, dict[str, str]]:
    """The open alerts the form's matchers match now, or the field at fault."""
    if form.empty:
        return None, {}
    matchers = form_matchers(form)
    if isinstance(matchers, tuple):
        return None, {matchers[0]: matchers[1]}
    with rt.read_engine.connect() as conn:
        return open_alerts_matching(conn, matchers), {}


def _page(
    request: Request,
    rt: Runtime,
    form: SilenceForm,
    *,
    section: str | None = None,
    preview: AlertMatches | None = None,
    zone: ZoneInfo,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    now = rt.clock()
    context: dict[str, Any] = {
        "form": form,
        "durations": DURATIONS,
        "custom": CUSTOM,
        "preview": preview,
        "notice": message,
        # The banner (no-JS): each refused field, named.
        "error": "; ".join(f"{name}: {why}" for name, why in form.errors.items()),
        "zone": zone,
        "preview_only": section == "preview",
        "now_local": now.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    }
    if section == "preview":
        return render(request, "silences/_preview.html", context, status_code)
    if section == "create":
        return render(request, "silences/_create.html", context, status_code)
    context.update(_list_context(rt, now))
    if section == "list":
        return render(request, "silences/_list.html", context, status_code)
    return render(request, "silences.html", context, status_code)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("/silences")
def silences_page(request: Request, viewer: PageViewer, section: str | None = None) -> Response:
    """The page; `?section=list|create` one part of it. Matchers in the query (as the
    form sends them) fill the form and show the preview, for links and for no-JS."""
    if section is not None and section not in SECTIONS:
        raise PageError(422, f"section: must be one of {', '.join(SECTIONS)}")
    rt = runtime(request)
    form = SilenceForm.read({k: v for k, v in request.query_params.items() if k != "section"})
    preview, errors = _preview(rt, form)
    form = replace(form, errors=errors)
    return _page(
        request, rt, form, section=section, preview=preview, zone=viewer_zone(rt, viewer),
        status_code=_status(errors),
    )  # fmt: skip


def _status(errors: dict[str, str]) -> int:
    return 422 if errors else 200


async def posted_form(request: Request) -> SilenceForm:
    """The create form as posted (both the preview and the create read it)."""
    data = await request.form()  # cached: PageResponder has read it for the token
    return SilenceForm.read({k: v for k, v in data.items() if isinstance(v, str)})


PostedForm = Annotated[SilenceForm, Depends(posted_form)]


@router.post("/silences/preview")
def preview_silence(
    request: Request,
    caller: PageResponder,
    form: PostedForm,
) -> Response:
    """htmx: the preview fragment; without JavaScript: the page, form kept, with it."""
    rt = runtime(request)
    preview, errors = _preview(rt, form)
    if not errors and form.empty:
        errors = {"matchers": "give at least one matcher to preview"}
    form = replace(form, errors=errors)
    section = "preview" if _htmx(request) else None
    return _page(
        request, rt, form, section=section, preview=preview, zone=viewer_zone(rt, caller),
        status_code=_status(errors),
    )  # fmt: skip


@router.post("/silences")
def create_silence(
    request: Request,
    caller: PageResponder,
    form: PostedForm,
) -> Response:
    rt = runtime(request)
    zone = viewer_zone(rt, caller)
    created = _create(rt, caller, form, zone)
    if not isinstance(created, Created):
        failed = replace(form, errors={created[0]: created[1]})
        preview, _ = _preview(rt, form) if created[0] not in ("matchers", "label") else (None, {})
        section = "create" if _htmx(request) else None
        return _page(
            request, rt, failed, section=section, preview=preview, zone=zone, status_code=422
        )
    # Incidents whose pages it dropped have a new timeline entry too.
    live.changed(rt, "silences", *(["incidents"] if created.quieted else []))
    if not _htmx(request):
        return RedirectResponse("/silences", status_code=303)
    shown = ", ".join(str(m) for m in created.silence.matchers)
    quieted = ", ".join(f"#{i}" for i in created.quieted)
    return _page(
        request, rt, SilenceForm(), section="create", zone=zone,
        message=f"Silenced {shown} (id {created.silence.id})."
        + (f" Pages not sent on {quieted}." if quieted else ""),
    )  # fmt: skip


@dataclass(frozen=True)
class Created:
    silence: Silence
    quieted: list[int]  # incidents whose queued pages it dropped


def _create(
    rt: Runtime, caller: Principal, form: SilenceForm, zone: ZoneInfo
) -> Created | tuple[str, str]:
    body = silence_request(form, zone)
    if isinstance(body, tuple):
        return body
    now = rt.clock()
    silence = new_silence(body, caller.name, now)
    if isinstance(silence, tuple):
        return form_field(silence[0], form.duration == CUSTOM), silence[1]
    with rt.engine.begin() as conn:
        return Created(*store_silence(conn, silence, now))


@router.post("/silences/{silence_id}/expire")
def expire_silence(request: Request, caller: PageResponder, silence_id: str) -> Response:
    rt = runtime(request)
    if len(silence_id) > 200 or storable_text(silence_id) is not silence_id:
        raise PageError(404, "no such silence")  # could not have been stored
    try:
        with rt.engine.begin() as conn:
            silence_store.expire(conn, silence_id, caller.name, rt.clock(), rt.settings.silences)
    except silence_store.SilenceNotFound as exc:
        raise PageError(404, str(exc)) from exc
    except (silence_store.SilenceReadOnly, silence_store.SilenceAlreadyExpired) as exc:
        raise PageError(409, str(exc)) from exc
    live.changed(rt, "silences")
    if not _htmx(request):
        return RedirectResponse("/silences", status_code=303)
    return _page(request, rt, SilenceForm(), section="list", zone=viewer_zone(rt, caller))
