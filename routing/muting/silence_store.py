"""Silences repository: API/chat silences in the `silence` table, config silences read-only.

Config silences get the id `config:<index>` unless the config names one, so every
silence a person sees can be referred to, but only stored ones can be ended early.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import Connection, Table, and_, func, insert, or_, select, update

from routing.muting.silence import (
    Recurrence,
    Silence,
    SilenceState,
    SilenceStatus,
    silence_status,
)
from routing.storage.paging_tables import PagingHoldRow, SilenceRow

log = logging.getLogger("firebell.silences")

HOLD: Table = PagingHoldRow.metadata.tables["paging_hold"]
SILENCE: Table = SilenceRow.metadata.tables["silence"]
CONFIG_PREFIX = "config:"

Origin = Literal["api", "config"]


class SilenceNotFound(LookupError):
    pass


class SilenceReadOnly(ValueError):
    """A config silence: it can only be changed by editing the config file."""


class SilenceAlreadyExpired(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SilenceView:
    """A silence as people see it: where it comes from and its state at `now`."""

    silence: Silence
    origin: Origin
    status: SilenceStatus
    created_at: datetime | None = None
    expired_at: datetime | None = None
    expired_by: str | None = None

    @property
    def state(self) -> SilenceState:
        return self.status.state

    @property
    def id(self) -> str:
        assert self.silence.id is not None  # every view carries an id
        return self.silence.id

    def item(self) -> dict[str, Any]:
        """JSON form for the REST API."""
        s = self.silence
        return {
            "id": self.id,
            "origin": self.origin,
            "state": self.state.value,
            "matchers": [str(m) for m in s.matchers],
            "starts_at": _iso(s.starts_at),
            "ends_at": _iso(s.ends_at),
            "created_by": s.created_by,
            "comment": s.comment,
            "recurrence": s.recurrence.model_dump(mode="json") if s.recurrence else None,
            # The true state: when an active silence (or this window of a recurring one)
            # ends, and when a pending one mutes next.
            "window_ends_at": _iso(self.status.window_ends_at),
            "next_window_at": _iso(self.status.next_window_at),
            "created_at": _iso(self.created_at),
            "expired_at": _iso(self.expired_at),
            "expired_by": self.expired_by,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def new_silence_id() -> str:
    return str(uuid.uuid4())


def config_views(silences: Sequence[Silence], now: datetime) -> list[SilenceView]:
    """The config's silences, each with a stable id."""
    out = []
    for index, silence in enumerate(silences):
        ident = silence.id or f"{CONFIG_PREFIX}{index}"
        named = silence if silence.id else silence.model_copy(update={"id": ident})
        out.append(SilenceView(named, "config", silence_status(named, now)))
    return out


def _from_row(row: Any) -> Silence:
    recurrence = Recurrence.model_validate(row["recurrence"]) if row["recurrence"] else None
    return Silence(
        id=row["id"],
        matchers=list(row["matchers"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=row["created_by"],
        comment=row["comment"],
        recurrence=recurrence,
    )


def stored_in_force(conn: Connection, now: datetime) -> list[Silence]:
    """Stored silences that may be in force at `now`. A row that no longer reads as a
    Silence is logged and skipped: one bad row must not stop alerts from being stored or
    paged."""
    rows = conn.execute(
        select(SILENCE).where(
            SILENCE.c.expired_at.is_(None),
            or_(SILENCE.c.ends_at.is_(None), SILENCE.c.ends_at > now),
            or_(SILENCE.c.starts_at.is_(None), SILENCE.c.starts_at <= now),
        )
    ).mappings()
    out = []
    for row in rows:
        try:
            out.append(_from_row(row))
        except (ValidationError, ValueError) as exc:
            log.error("silence %s is invalid and ignored: %s", row["id"], exc)
    return out


def _view(row: Any, now: datetime) -> SilenceView:
    silence = _from_row(row)
    expired = row["expired_at"] is not None
    status = SilenceStatus(SilenceState.EXPIRED) if expired else silence_status(silence, now)
    return SilenceView(
        silence, "api", status, row["created_at"], row["expired_at"], row["expired_by"]
    )


def create(conn: Connection, silence: Silence, now: datetime) -> Silence:
    """Store a silence (a new UUID unless it has an id) and return it with its id."""
    stored = silence if silence.id else silence.model_copy(update={"id": new_silence_id()})
    conn.execute(
        insert(SILENCE).values(
            id=stored.id,
            matchers=[str(m) for m in stored.matchers],
            starts_at=stored.starts_at,
            ends_at=stored.ends_at,
            created_by=stored.created_by[:200],
            comment=stored.comment,
            recurrence=stored.recurrence.model_dump(mode="json") if stored.recurrence else None,
            created_at=now,
        )
    )
    return stored


def get(
    conn: Connection, silence_id: str, now: datetime, config: Sequence[Silence] = ()
) -> SilenceView:
    for view in config_views(config, now):
        if view.id == silence_id:
            return view
    row = conn.execute(select(SILENCE).where(SILENCE.c.id == silence_id)).mappings().first()
    if row is None:
        raise SilenceNotFound(f"no silence {silence_id!r}")
    return _view(row, now)


def list_current(
    conn: Connection, now: datetime, config: Sequence[Silence] = ()
) -> list[SilenceView]:
    """Active and pending silences (stored ones first, newest first), then the config's."""
    rows = conn.execute(
        select(SILENCE)
        .where(SILENCE.c.expired_at.is_(None))
        .where(or_(SILENCE.c.ends_at.is_(None), SILENCE.c.ends_at > now))
        .order_by(SILENCE.c.created_at.desc(), SILENCE.c.id)
    ).mappings()
    # A recurring silence with no window left before its end is over, as an ended one.
    stored = [v for v in (_view(row, now) for row in rows) if v.state is not SilenceState.EXPIRED]
    configured = [v for v in config_views(config, now) if v.state is not SilenceState.EXPIRED]
    return stored + configured


def list_ended(
    conn: Connection, now: datetime, since: datetime, config: Sequence[Silence] = ()
) -> list[SilenceView]:
    """Silences that ended (ran out, or were expired early) from `since` to `now`, the
    latest first: stored ones, then the config's."""
    ended_at = func.coalesce(SILENCE.c.expired_at, SILENCE.c.ends_at)
    rows = conn.execute(
        select(SILENCE)
        .where(
            or_(
                SILENCE.c.expired_at >= since,
                and_(
                    SILENCE.c.expired_at.is_(None),
                    SILENCE.c.ends_at >= since,
                    SILENCE.c.ends_at <= now,
                ),
            )
        )
        .order_by(ended_at.desc(), SILENCE.c.id)
    ).mappings()
    stored = [v for v in (_view(row, now) for row in rows) if v.state is SilenceState.EXPIRED]
    configured = [
        v
        for v in config_views(config, now)
        if v.state is SilenceState.EXPIRED
        and v.silence.ends_at is not None
        and since <= v.silence.ends_at <= now
    ]
    return stored + configured


def active(conn: Connection, now: datetime, config: Sequence[Silence] = ()) -> list[Silence]:
    """Every silence in force or pending at `now` (for routing, which checks windows itself)."""
    return [view.silence for view in list_current(conn, now, config)]


def expire(
    conn: Connection,
    silence_id: str,
    actor: str,
    now: datetime,
    config: Sequence[Silence] = (),
) -> SilenceView:
    """End a stored silence now; the row is kept (with who ended it) for the record."""
    if silence_id.startswith(CONFIG_PREFIX) or any(s.id == silence_id for s in config):
        raise SilenceReadOnly(
            f"silence {silence_id} comes from the config file; remove it there and reload"
        )
    row = (
        conn.execute(select(SILENCE).where(SILENCE.c.id == silence_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise SilenceNotFound(f"no silence {silence_id!r}")
    view = _view(row, now)
    if view.state is SilenceState.EXPIRED:
        raise SilenceAlreadyExpired(f"silence {silence_id} has already ended")
    conn.execute(
        update(SILENCE)
        .where(SILENCE.c.id == silence_id)
        .values(expired_at=now, expired_by=actor[:200])
    )
    # Incidents this silence held from paging are looked at on the worker's next pass.
    recheck_held_by(conn, silence_id, now)
    return get(conn, silence_id, now)


def recheck_held_by(conn: Connection, silence_id: str, now: datetime) -> int:
    """A silence ended early: the incidents it held from paging are due for a look at once
    (the paging worker's follow-up pass picks them up)."""
    done = conn.execute(
        update(HOLD)
        .where(HOLD.c.state == "held", HOLD.c.silence_id == silence_id)
        .values(recheck_at=now)
    )
    return int(done.rowcount or 0)
