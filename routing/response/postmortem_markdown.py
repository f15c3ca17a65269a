"""The postmortem document (routing.response.postmortem) rendered as Markdown.

Text that came from outside (titles, labels, notes, outputs) is escaped so that it
cannot start a heading, break a table row, open a link or raw HTML: `md_inline` puts it
on one line with every inline syntax character backslash-escaped; `md_code_block`
fences an output with a fence longer than any backtick run inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def human_duration(seconds: float | None) -> str:
    """1d 2h 3m 4s, leaving out the zero parts ("0s" for nothing); "-" for None."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else ""]
    parts += [f"{minutes}m" if minutes else "", f"{secs}s" if secs or whole == 0 else ""]
    return " ".join(p for p in parts if p)


# Every line break a renderer (or Python's splitlines) might honour.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Inline Markdown syntax (CommonMark and GFM tables, strikethrough, autolinks, entities);
# text is never placed at the start of a line, so block syntax (lists, `=` underlines)
# cannot begin inside it once its line breaks are gone.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~!&#$])")
# A URL written as an autolink as is (autolinks take no backslash escapes).
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")


def md_inline(text: Any) -> str:
    """Untrusted text as one line of literal Markdown (also safe inside a table cell)."""
    flat = _LINE_BREAKS.sub(" ", str(text if text is not None else ""))
    return _SPECIAL.sub(r"\\\1", flat)


def md_code_block(text: str) -> str:
    """Text as a fenced code block whose fence no line of the text can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = _LINE_BREAKS.sub("\n", text).rstrip("\n")
    return f"{fence}text\n{body}\n{fence}"


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(md_inline(cell) for cell in row) + " |")
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    inc = doc["incident"]
    out = [f"# {md_inline(doc['title'])}", ""]
    out += [
        f"Generated {_when(doc['generated_at'])}. All times are UTC.",
        "",
        "## Summary",
        "",
        md_inline(doc["summary"]),
        "",
        f"- **Severity:** {md_inline(inc['severity'])}",
        f"- **Service:** {md_inline(inc['service'])}",
        f"- **Status:** {md_inline(inc['status'])}",
    ]
    if inc.get("link"):
        link = inc["link"]
        shown = f"<{link}>" if _PLAIN_URL.fullmatch(link) else md_inline(link)
        out.append(f"- **Incident page:** {shown}")
    impact, figures = doc["impact"], doc["figures"]
    end = "ongoing" if impact["ongoing"] else _when(impact["end"])
    out += [
        "",
        "## Impact window",
        "",
        f"From the first alert, {_when(impact['start'])}, to the resolution, {end}"
        + ("." if impact["duration_s"] is None else f" ({human_duration(impact['duration_s'])})."),
        "",
        "## Response",
        "",
        f"- **Time to acknowledge (MTTA):** {human_duration(figures['tta_s'])}"
        + (f" by {md_inline(inc['acknowledged_by'])}" if inc.get("acknowledged_by") else ""),
        f"- **Time to resolve (MTTR):** {human_duration(figures['ttr_s'])}"
        + (f" by {md_inline(inc['resolved_by'])}" if inc.get("resolved_by") else ""),
        "",
        "## Alerts",
        "",
    ]
    out += (
        _table(
            (
                "alert",
                "source",
                "severity",
                "status",
                "occurrences",
                "first seen",
                "last seen",
                "labels",
            ),
            (
                (
                    a["title"],
                    a["source"],
                    a["severity"],
                    a["status"] + (" (flapping)" if a["flapping"] else ""),
                    a["occurrences"],
                    _when(a["first_seen"]),
                    _when(a["last_seen"]),
                    ", ".join(f"{k}={v}" for k, v in a["labels"].items()),
                )
                for a in doc["alerts"]
            ),
        )
        if doc["alerts"]
        else ["No alerts."]
    )
    out += ["", "## Who was paged", ""]
    out += (
        _table(
            ("who", "via", "step", "status", "queued", "sent"),
            (
                (
                    p["recipient"],
                    p["via"],
                    p["step"],
                    p["status"],
                    _when(p["queued_at"]),
                    _when(p["sent_at"]),
                )
                for p in doc["paged"]
            ),
        )
        if doc["paged"]
        else ["Nobody was paged."]
    )
    out += ["", "## Who acted", ""]
    if doc["acted"]:
        for person in doc["acted"]:
            kinds = md_inline(", ".join(sorted({a["kind"] for a in person["actions"]})))
            count = len(person["actions"])
            out.append(
                f"- **{md_inline(person['person'])}**: {count} "
                f"action{'' if count == 1 else 's'} ({kinds})"
            )
    else:
        out.append("Nobody acted on it: firebell alone.")
    out += ["", "## Playbook runs and approvals", ""]
    out += _runs_markdown(doc["playbook_runs"])
    out += ["", "## Timeline", ""]
    out += (
        _table(
            ("time (UTC)", "what", "who", "detail"),
            ((_when(e["at"]), e["kind"], e["actor"], e["message"]) for e in doc["timeline"]),
        )
        if doc["timeline"]
        else ["No entries."]
    )
    if doc["timeline_omitted"]:
        out += ["", f"{doc['timeline_omitted']} later entries are not shown."]
    out += ["", "## Causes", "", f"_{md_inline(doc['causes'])}_", ""]
    out += ["## Actions", "", f"_{md_inline(doc['actions'])}_", ""]
    return "\n".join(out)


def _runs_markdown(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    if not runs:
        return ["No playbook ran."]
    out: list[str] = []
    for run in runs:
        out += [
            f"### Run {run['id']}: {md_inline(run['playbook'])} ({md_inline(run['status'])})",
            "",
            f"Started {_when(run['started_at'])} by {md_inline(run['started_by'])}"
            f" ({md_inline(run['trigger'])}), finished {_when(run['finished_at'])}.",
            "",
        ]
        out += _table(
            ("step", "action", "status", "started", "finished", "summary"),
            (
                (
                    s["step_id"],
                    s["uses"],
                    s["status"],
                    _when(s["started_at"]),
                    _when(s["finished_at"]),
                    s["summary"] or s["error"],
                )
                for s in run["steps"]
            ),
        )
        if run["approvals"]:
            out += [""]
            out += _table(
                ("step", "decision", "by", "via", "at", "comment"),
                (
                    (
                        a["step_id"],
                        a["decision"],
                        a["approver"],
                        a["surface"],
                        _when(a["at"]),
                        a["comment"],
                    )
                    for a in run["approvals"]
                ),
            )
        for step in run["steps"]:
            if step["excerpt"]:
                out += [
                    "",
                    f"Output of {md_inline(step['step_id'])}:",
                    "",
                    md_code_block(step["excerpt"]),
                ]
        out.append("")
    return out
