"""How the CLI prints what a command shows: JSON for scripts (`--json`, the REST API's
shapes), a table on a terminal (rich), the chat text everywhere else (pipes, logs).

A table only where people scan rows (incident list, silences, on call); `show` and the
writes keep their text, which already reads as a card."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.table import Table

from bot.commands import Reply


def print_json(data: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def json_of(reply: Reply) -> Any:
    """A reply as data: what a read showed, or what a write changed (with its text)."""
    if reply.data is not None:
        return reply.data
    return {"ok": reply.ok, "text": reply.text, "incident": reply.incident}


def print_reply(reply: Reply, *, as_json: bool, table: str | None = None) -> None:
    """Print one command's answer; `table` names the table kind for a terminal."""
    if as_json:
        if reply.ok:
            print_json(json_of(reply))
        else:
            print_json({"error": reply.text}, sys.stderr)
        return
    if reply.ok and reply.data is not None and table and print_table(table, reply.data):
        return
    print(reply.text, file=sys.stdout if reply.ok else sys.stderr)


def print_table(kind: str, data: Any) -> bool:
    """Print `data` as the `kind` table when stdout is a terminal; False otherwise, and
    when there is no row (the text says "No open incidents." better than an empty grid)."""
    render = TABLES.get(kind)
    console = Console()
    if render is None or not data["items"] or not console.is_terminal:
        return False
    console.print(render(data))
    return True


def _when(value: str | None) -> str:
    """ISO time as people read it in a table: UTC, minutes."""
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def incidents_table(data: Mapping[str, Any]) -> Table:
    title = "Incidents (newest first, more not shown)" if data["truncated"] else "Incidents"
    table = Table(title=title)
    for name in ("#", "status", "severity", "service", "alerts", "opened (UTC)", "title"):
        table.add_column(name, overflow="fold")
    for item in data["items"]:
        table.add_row(
            str(item["id"]),
            item["status"],
            item["severity"],
            item["service"] or "-",
            f"{item['open_alert_count']}/{item['alert_count']}",
            _when(item["created_at"]),
            item["title"],
        )
    return table


def silences_table(data: Mapping[str, Any]) -> Table:
    table = Table(title="Silences")
    for name in ("id", "state", "matchers", "until / next (UTC)", "by", "comment"):
        table.add_column(name, overflow="fold")
    for item in data["items"]:
        until = item["window_ends_at"] or item["next_window_at"] or item["ends_at"]
        table.add_row(
            item["id"],
            item["state"],
            ", ".join(item["matchers"]),
            _when(until),
            item["created_by"] or "-",
            item["comment"] or "",
        )
    return table


def oncall_table(data: Mapping[str, Any]) -> Table:
    table = Table(title="On call")
    for name in ("schedule", "on call now", "next hand-off (local)", "to"):
        table.add_column(name, overflow="fold")
    for item in data["items"]:
        upcoming: Sequence[Mapping[str, Any]] = item["next"]
        first = upcoming[0] if upcoming else None
        table.add_row(
            f"{item['schedule']} ({item['time_zone']})",
            ", ".join(item["oncall"]) or "nobody",
            first["at_local"] if first else "-",
            (first["user"] or "nobody") if first else "-",
        )
    return table


TABLES: dict[str, Callable[[Any], Table]] = {
    "list": incidents_table,
    "silences": silences_table,
    "oncall": oncall_table,
}
