"""Running the incident commands: list, show, ack, resolve, note."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot.commands.context import Reply
from bot.commands.formatting import incident_line, show_text
from bot.commands.model import Ack, ListIncidents, Note, Resolve, ShowIncident
from routing.response import actions as response
from routing.response import incidents

MAX_LIST = 20


def list_incidents(conn: Connection, command: ListIncidents, now: datetime) -> Reply:
    scope = command.scope
    items = incidents.list_incidents(
        conn,
        status=scope if scope in incidents.INCIDENT_STATUSES else None,
        open_only=scope == "open",
        service=command.service,
        limit=MAX_LIST + 1,
    )
    what = "incidents" if scope == "all" else f"{scope} incidents"
    where = f" for service {command.service}" if command.service else ""
    more = len(items) > MAX_LIST
    data = {"items": items[:MAX_LIST], "truncated": more}
    if not items:
        return Reply(f"No {what}{where}.", data=data)
    lines = [f"{what.capitalize()}{where}{' (newest ' + str(MAX_LIST) + ')' if more else ''}:"]
    lines += [incident_line(item, now) for item in items[:MAX_LIST]]
    return Reply("\n".join(lines), data=data)


def show_incident(conn: Connection, command: ShowIncident, now: datetime, zone: ZoneInfo) -> Reply:
    item = incidents.get_incident(conn, command.incident_id, now=now)
    return Reply(show_text(item, zone), incident_id=command.incident_id, incident=item, data=item)


def acknowledge(conn: Connection, command: Ack, who: str, now: datetime) -> Reply:
    item = response.acknowledge(conn, command.incident_id, who, now)
    return changed_reply(f"acknowledged by {who}", item, "ack")


def resolve(conn: Connection, command: Resolve, who: str, now: datetime) -> Reply:
    item = response.resolve(conn, command.incident_id, who, now, command.note)
    note = f": {command.note}" if command.note else ""
    return changed_reply(f"resolved by {who}{note}", item, "resolve")


def add_note(conn: Connection, command: Note, who: str, now: datetime) -> Reply:
    incidents.add_note(conn, command.incident_id, who, now, command.text)
    item = incidents.get_incident(conn, command.incident_id, details=False)
    return changed_reply(f"note by {who}: {command.text}", item, "note")


def changed_reply(what: str, item: Mapping[str, Any], action: str) -> Reply:
    text = f"Incident #{item['id']} {what} · {item['title']}"
    return Reply(text, "public", item["id"], True, action=action, incident=item)
