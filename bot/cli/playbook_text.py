"""How `firebell playbook` and `firebell simulate` print playbooks, runs, outputs and
dry-runs as text (`--json` prints the REST API's shapes instead)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.table import Table


def _when(value: Any) -> str:
    if value is None or value == "":
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(instant.strftime("%Y-%m-%d %H:%M:%S UTC"))


def playbook_lines(item: Mapping[str, Any]) -> list[str]:
    """One playbook as `playbook show` prints it (a summarize() dict, steps in full)."""
    lines = [f"{item['id']}  ({item['run']})"]
    if item.get("description"):
        lines.append(f"  {item['description']}")
    lines.append(f"  match   {', '.join(item['match']) or 'every incident'}")
    for name, spec in item["params"].items():
        facts = [f"default {spec['default']}" if "default" in spec else "required"]
        facts += [f"{key} {spec[key]}" for key in ("min", "max", "pattern") if key in spec]
        if spec.get("choices"):
            facts.append("one of " + ", ".join(spec["choices"]))
        about = f"  ({spec['description']})" if spec.get("description") else ""
        lines.append(f"  param   {name}: {spec['type']}, {', '.join(facts)}{about}")
    for number, step in enumerate(item["steps"], 1):
        extra = [f"if {step['if']}"] if step.get("if") else []
        extra += [flag for flag in ("continue_on_error", "always") if step.get(flag)]
        tail = f"  ({'; '.join(extra)})" if extra else ""
        lines.append(f"  {number}. {step['id']:<12} {step['uses']}{tail}")
        if step.get("with"):
            lines.append(f"     with {json.dumps(step['with'], ensure_ascii=False)}")
    return lines


def playbooks_table(data: Mapping[str, Any]) -> Table:
    table = Table(title="Playbooks")
    for name in ("id", "run", "match", "params", "steps", "description"):
        table.add_column(name, overflow="fold")
    for item in data["items"]:
        table.add_row(
            item["id"],
            item["run"],
            ", ".join(item["match"]) or "-",
            ", ".join(item["params"]) or "-",
            " → ".join(step["uses"] for step in item["steps"]),
            item["description"],
        )
    return table


def playbook_list_lines(items: Sequence[Mapping[str, Any]]) -> list[str]:
    if not items:
        return ["No playbooks configured (set `playbooks:` to a folder of *.yaml files)."]
    return [
        f"{item['id']:<20} {item['run']:<8} {', '.join(item['match']) or '-'}"
        + (f"  {item['description']}" if item["description"] else "")
        for item in items
    ]


def run_line(run: Mapping[str, Any]) -> str:
    by = run.get("started_by") or "-"
    text = (
        f"run #{run['id']}  {run['playbook']} on incident #{run['incident_id']}  "
        f"{run['status']}  by {by}  {_when(run.get('created_at'))}"
    )
    return text + (f"  — {run['summary']}" if run.get("summary") else "")


def runs_table(data: Mapping[str, Any]) -> Table:
    table = Table(title="Playbook runs")
    for name in ("run", "incident", "playbook", "status", "by", "started (UTC)", "summary"):
        table.add_column(name, overflow="fold")
    for run in data["items"]:
        table.add_row(
            str(run["id"]),
            str(run["incident_id"]),
            run["playbook"],
            run["status"],
            run.get("started_by") or "-",
            _when(run.get("created_at")),
            run.get("summary") or "",
        )
    return table


def run_detail_lines(run: Mapping[str, Any]) -> list[str]:
    lines = [run_line(run)]
    for step in run.get("steps", []):
        summary = step.get("summary") or step.get("error") or ""
        lines.append(
            f"  {step['step_id']:<12} {step['uses']:<20} {step['status']:<10} {summary}".rstrip()
        )
    return lines


def output_lines(outputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """`playbook logs`: each step's stored lines under a header saying what was cut."""
    lines: list[str] = []
    for output in outputs:
        kept = output.get("line_count") or 0
        cut = output.get("cut_lines") or 0
        note = f"{kept} lines" + (f", {cut} older lines cut" if cut else "")
        lines.append(f"== {output['step_id']} ({output['uses']}, {output['status']}): {note}")
        text = output.get("text")
        lines.append(text if text else "(no output)")
    return lines or ["(no output)"]


def request_text(request: Mapping[str, Any] | None) -> list[str]:
    """The exact request a step would send, as a dry-run shows it."""
    if request is None:
        return []
    shown = dict(request)
    if "url" in shown:
        lines = [f"{shown.pop('method', 'GET')} {shown.pop('url')}"]
        for name, value in (shown.pop("headers", None) or {}).items():
            lines.append(f"{name}: {value}")
        body = shown.pop("body", None)
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            lines.append(text)
    elif "argv" in shown:
        lines = [" ".join(str(part) for part in shown.pop("argv"))]
    else:
        lines = []
    lines += [f"{key}: {_value(value)}" for key, value in shown.items()]
    return lines


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def dry_run_lines(result: Mapping[str, Any], indent: int = 0) -> list[str]:
    """A dry-run result: each step, its `if`, and what it would send."""
    pad = " " * indent
    params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
    sent = result["sent"]
    head = f"dry-run of {result['playbook']} on incident #{result['incident_id']}"
    lines = [pad + head + (f" ({params})" if params else "")]
    for number, step in enumerate(result["steps"], 1):
        condition = step["if"]
        when = "" if condition is None else f"  if: {str(condition).lower()}"
        lines.append(f"{pad}  {number}. {step['id']} ({step['uses']}, {step['effect']}){when}")
        lines += [f"{pad}       {line}" for line in request_text(step["request"])]
        if step.get("note"):
            lines.append(f"{pad}       ({step['note']})")
        if "result" in step:
            lines.append(f"{pad}       read: {step['result']}")
            lines += [f"{pad}         | {line}" for line in step["excerpt"].splitlines()]
    tail = "nothing was sent" if not sent else f"{sent} read{'s' if sent != 1 else ''} sent"
    lines.append(f"{pad}  ({tail})")
    return lines
