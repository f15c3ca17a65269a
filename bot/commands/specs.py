"""The command vocabulary: each command's usage, example and summary, aliases, and help."""

from __future__ import annotations

from dataclasses import dataclass

from routing.intake.alert import INCIDENT_STATUSES

DEFAULT_PREFIX = "/incident"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    usage: str  # after the command prefix
    example: str
    summary: str
    options: tuple[str, ...]  # argument names, in order (also Discord's option names)
    rest: bool  # the last argument takes the rest of the line (free text)


SPECS: dict[str, CommandSpec] = {
    "list": CommandSpec(
        "list [open|all] [service]", "list all api", "list incidents", ("scope", "service"), False
    ),
    "show": CommandSpec(
        "show ID", "show 42", "an incident with its alerts and timeline", ("id",), False
    ),
    "ack": CommandSpec("ack ID", "ack 42", "acknowledge: stops the escalation", ("id",), False),
    "resolve": CommandSpec(
        "resolve ID [note]",
        "resolve 42 rolled back",
        "resolve, with an optional note",
        ("id", "note"),
        True,
    ),
    "note": CommandSpec(
        "note ID TEXT",
        "note 42 rolled back the deploy",
        "add a note to the timeline",
        ("id", "text"),
        True,
    ),
    "oncall": CommandSpec(
        "oncall [schedule]",
        "oncall backend-primary",
        "who is on call now and next",
        ("schedule",),
        False,
    ),
    "page": CommandSpec(
        "page USER|TEAM TEXT",
        "page alice the database is down",
        "open an incident by hand and page someone now",
        ("target", "text"),
        True,
    ),
    "silence": CommandSpec(
        "silence MATCHERS|ID DURATION|every:DAYS/HH:MM-HH:MM[/ZONE] [comment]",
        'silence service=api,alertname=~"High.*" 2h deploy',
        "mute matching alerts for a while (or an incident's alerts: silence 42 1h), "
        "or every week in a window: silence service=db every:sun/02:00-04:00 backups",
        ("matchers", "duration", "comment"),
        True,
    ),
    "silences": CommandSpec("silences", "silences", "list active and pending silences", (), False),
    "unsilence": CommandSpec(
        "unsilence ID", "unsilence 3f2a…", "end a silence now", ("id",), False
    ),
    "run": CommandSpec(
        "run ID PLAYBOOK [k=v ...] [--dry-run]",
        "run 42 api-5xx window=1h",
        "run a playbook for an incident (--dry-run: show what it would send, send nothing)",
        ("id", "playbook", "params", "dry_run"),
        False,
    ),
    "help": CommandSpec("help [command]", "help silence", "this help", ("command",), False),
}
ALIASES = {"acknowledge": "ack", "ls": "list", "silence-list": "silences", "expire": "unsilence"}
LIST_SCOPES = ("open", "all", *INCIDENT_STATUSES)


def usage(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix} {SPECS[name].usage}"


def example(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix} {SPECS[name].example}"


def help_text(topic: str | None = None, prefix: str = DEFAULT_PREFIX) -> str:
    if topic:
        spec = SPECS[topic]
        return f"{prefix} {spec.usage}\n{spec.summary}\nExample: {prefix} {spec.example}"
    width = max(len(spec.usage) for spec in SPECS.values())
    lines = ["Incident commands:"]
    lines += [f"{prefix} {spec.usage.ljust(width)}  {spec.summary}" for spec in SPECS.values()]
    return "\n".join(lines)
