"""The transport-neutral incident command layer shared by Slack, Discord, the CLI and REST.

`parse_command` turns the words after `/incident` into a Command (pure, no I/O);
`execute` runs it for an Actor and answers with a Reply the surface renders. Every
surface speaks the same words, so `/incident ack 42` acts alike everywhere.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from routing import incidents
from routing import silence_store as silences
from routing.alert import Alert, AlertStatus, Severity
from routing.duration import DurationError, format_duration, parse_duration
from routing.escalation import Recipient, resolve_targets
from routing.fingerprint import fingerprint_of
from routing.matcher import Matcher, MatcherError, MatchType, parse_matchers
from routing.policy import PolicyConfig
from routing.schedule import Schedule, next_handoffs, oncall_at
from routing.silence import Silence

Visibility = Literal["ephemeral", "public"]
Surface = Literal["slack", "discord", "cli", "api"]
DEFAULT_PREFIX = "/incident"
MAX_LIST = 20
TIMELINE_SHOWN = 10
SILENCE_BUTTON_DURATION = timedelta(hours=1)

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class ListIncidents:
    name: ClassVar[str] = "list"
    writes: ClassVar[bool] = False
    scope: str = "open"  # open, all, or one status
    service: str | None = None


@dataclass(frozen=True, slots=True)
class ShowIncident:
    name: ClassVar[str] = "show"
    writes: ClassVar[bool] = False
    incident_id: int


@dataclass(frozen=True, slots=True)
class Ack:
    name: ClassVar[str] = "ack"
    writes: ClassVar[bool] = True
    incident_id: int


@dataclass(frozen=True, slots=True)
class Resolve:
    name: ClassVar[str] = "resolve"
    writes: ClassVar[bool] = True
    incident_id: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    name: ClassVar[str] = "note"
    writes: ClassVar[bool] = True
    incident_id: int
    text: str


@dataclass(frozen=True, slots=True)
class Oncall:
    name: ClassVar[str] = "oncall"
    writes: ClassVar[bool] = False
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    name: ClassVar[str] = "page"
    writes: ClassVar[bool] = True
    target: str  # "alice", "user:alice", "team:ops" or "schedule:primary"
    text: str


@dataclass(frozen=True, slots=True)
class SilenceAlerts:
    """Silence by matchers, or (incident_id set) by the labels that group an incident."""

    name: ClassVar[str] = "silence"
    writes: ClassVar[bool] = True
    matchers: tuple[Matcher, ...]
    duration: timedelta
    comment: str = ""
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class ListSilences:
    name: ClassVar[str] = "silences"
    writes: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Unsilence:
    name: ClassVar[str] = "unsilence"
    writes: ClassVar[bool] = True
    silence_id: str


@dataclass(frozen=True, slots=True)
class RunPlaybook:
    name: ClassVar[str] = "run"
    writes: ClassVar[bool] = True
    incident_id: int
    playbook: str


@dataclass(frozen=True, slots=True)
class Help:
    name: ClassVar[str] = "help"
    writes: ClassVar[bool] = False
    topic: str | None = None


Command = (
    ListIncidents
    | ShowIncident
    | Ack
    | Resolve
    | Note
    | Oncall
    | Page
    | SilenceAlerts
    | ListSilences
    | Unsilence
    | RunPlaybook
    | Help
)


@dataclass(frozen=True, slots=True)
class CommandError:
    """What was wrong with the command, and how to write it right."""

    message: str


@dataclass(frozen=True, slots=True)
class _Spec:
    usage: str  # after the command prefix
    example: str
    summary: str
    options: tuple[str, ...]  # argument names, in order (also Discord's option names)
    rest: bool  # the last argument takes the rest of the line (free text)


SPECS: dict[str, _Spec] = {
    "list": _Spec(
        "list [open|all] [service]", "list all api", "list incidents", ("scope", "service"), False
    ),
    "show": _Spec("show ID", "show 42", "an incident with its alerts and timeline", ("id",), False),
    "ack": _Spec("ack ID", "ack 42", "acknowledge: stops the escalation", ("id",), False),
    "resolve": _Spec(
        "resolve ID [note]",
        "resolve 42 rolled back",
        "resolve, with an optional note",
        ("id", "note"),
        True,
    ),
    "note": _Spec(
        "note ID TEXT",
        "note 42 rolled back the deploy",
        "add a note to the timeline",
        ("id", "text"),
        True,
    ),
    "oncall": _Spec(
        "oncall [schedule]",
        "oncall backend-primary",
        "who is on call now and next",
        ("schedule",),
        False,
    ),
    "page": _Spec(
        "page USER|TEAM TEXT",
        "page alice the database is down",
        "open an incident by hand and page someone now",
        ("target", "text"),
        True,
    ),
    "silence": _Spec(
        "silence MATCHERS|ID DURATION [comment]",
        'silence service=api,alertname=~"High.*" 2h deploy',
        "mute matching alerts for a while (or an incident's alerts: silence 42 1h)",
        ("matchers", "duration", "comment"),
        True,
    ),
    "silences": _Spec("silences", "silences", "list active and pending silences", (), False),
    "unsilence": _Spec("unsilence ID", "unsilence 3f2a…", "end a silence now", ("id",), False),
    "run": _Spec(
        "run ID PLAYBOOK",
        "run 42 restart-api",
        "run a playbook for an incident",
        ("id", "playbook"),
        False,
    ),
    "help": _Spec("help [command]", "help silence", "this help", ("command",), False),
}
ALIASES = {"acknowledge": "ack", "ls": "list", "silence-list": "silences", "expire": "unsilence"}
READ_ONLY = tuple(name for name in SPECS if name in ("list", "show", "oncall", "silences", "help"))
LIST_SCOPES = ("open", "all", *incidents.INCIDENT_STATUSES)


def usage(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix} {SPECS[name].usage}"


def example(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix} {SPECS[name].example}"


# --------------------------------------------------------------------------- parsing


def tokenize(text: str, maxsplit: int = -1) -> list[str]:
    """Split on spaces outside double quotes and braces; quotes are kept (matchers need them).

    With `maxsplit` >= 0, at most that many splits are made and the last item is the
    rest of the line as written (free text like a note keeps its spacing and quotes).
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if 0 <= maxsplit <= len(out):
            out.append(text[i:].strip())
            break
        start, depth, quoted = i, 0, False
        while i < n and (quoted or depth or not text[i].isspace()):
            char = text[i]
            if quoted and char == "\\":
                i += 2
                continue
            if char == '"':
                quoted = not quoted
            elif not quoted and char == "{":
                depth += 1
            elif not quoted and char == "}" and depth:
                depth -= 1
            i += 1
        out.append(text[start:i])
    return out


def parse_command(text: str, prefix: str = DEFAULT_PREFIX) -> Command | CommandError:
    """The words after the slash command (a leading `/incident` is ignored)."""
    words = tokenize(text.strip(), maxsplit=1)
    if words and words[0].startswith("/"):  # the whole slash command was pasted
        words = tokenize(words[1], maxsplit=1) if len(words) > 1 else []
    if not words:
        return Help()
    name = words[0].lower()
    name = ALIASES.get(name, name)
    if name not in SPECS:
        return _unknown_command(words[0], prefix)
    spec = SPECS[name]
    rest = words[1] if len(words) > 1 else ""
    maxsplit = len(spec.options) - 1 if spec.rest else -1
    args = tokenize(rest, maxsplit) if spec.options else tokenize(rest)
    if len(args) > len(spec.options):
        extra = " ".join(args[len(spec.options) :])
        return CommandError(
            f"{name} takes {_count(len(spec.options), 'argument')}, "
            f"but got extra {extra!r}: {usage(name, prefix)}"
        )
    return _build(name, args, prefix)


def command_from_options(
    name: str, options: Mapping[str, Any], prefix: str = DEFAULT_PREFIX
) -> Command | CommandError:
    """A command from named options (Discord slash command options), checked like text."""
    name = ALIASES.get(name, name)
    if name not in SPECS:
        return _unknown_command(name, prefix)
    values = [options.get(option) for option in SPECS[name].options]
    args = ["" if value is None else str(value).strip() for value in values]
    while args and not args[-1]:
        args.pop()
    return _build(name, args, prefix)


def _count(number: int, noun: str) -> str:
    return f"no {noun}s" if number == 0 else f"{number} {noun}{'s' if number != 1 else ''}"


def _unknown_command(word: str, prefix: str) -> CommandError:
    close = difflib.get_close_matches(word.lower(), [*SPECS, *ALIASES], n=1)
    hint = f"did you mean {prefix} {ALIASES.get(close[0], close[0])}? " if close else ""
    return CommandError(
        f"unknown command {word!r}: {hint}Commands: {', '.join(SPECS)}. Try {prefix} help"
    )


def _arg(args: list[str], index: int) -> str:
    return args[index] if index < len(args) else ""


def _incident_id(name: str, text: str, prefix: str) -> int | CommandError:
    value = text.removeprefix("#")
    if not text:
        return CommandError(f"{name} needs an incident id: {example(name, prefix)}")
    if not (value.isascii() and value.isdigit()) or len(value) > 18 or int(value) == 0:
        return CommandError(
            f"{name}: {text!r} is not an incident id (a number like 42): {example(name, prefix)}"
        )
    return int(value)


def _build(name: str, args: list[str], prefix: str) -> Command | CommandError:
    if name == "list":
        return _build_list([a for a in args if a], prefix)
    if name in ("show", "ack", "resolve", "note", "run"):
        ident = _incident_id(name, _arg(args, 0), prefix)
        if isinstance(ident, CommandError):
            return ident
        if name == "show":
            return ShowIncident(ident)
        if name == "ack":
            return Ack(ident)
        if name == "resolve":
            return Resolve(ident, _arg(args, 1) or None)
        if name == "note":
            text = _arg(args, 1)
            if not text:
                return CommandError(f"note needs some text: {example('note', prefix)}")
            return Note(ident, text)
        playbook = _arg(args, 1)
        if not playbook:
            return CommandError(
                f"run needs a playbook name after the incident id: {example('run', prefix)}"
            )
        return RunPlaybook(ident, playbook)
    if name == "oncall":
        return Oncall(_arg(args, 0) or None)
    if name == "page":
        target, text = _arg(args, 0), _arg(args, 1)
        if not target:
            return CommandError(
                f"page needs a user or team and a message: {example('page', prefix)}"
            )
        if not text:
            return CommandError(
                f"page needs a message after {target!r} saying what is wrong: "
                f"{example('page', prefix)}"
            )
        return Page(target, text)
    if name == "silence":
        return _build_silence(args, prefix)
    if name == "silences":
        return ListSilences()
    if name == "unsilence":
        ident_text = _arg(args, 0)
        if not ident_text:
            return CommandError(
                f"unsilence needs a silence id (see {prefix} silences): {prefix} unsilence <id>"
            )
        return Unsilence(ident_text)
    topic = _arg(args, 0).lower() or None
    if topic is not None and ALIASES.get(topic, topic) not in SPECS:
        return _unknown_command(topic, prefix)
    return Help(ALIASES.get(topic, topic) if topic else None)


def _build_list(args: list[str], prefix: str) -> ListIncidents | CommandError:
    scope, service = "open", None
    if args and args[0].lower() in LIST_SCOPES:
        scope, args = args[0].lower(), args[1:]
    if len(args) > 1:
        return CommandError(
            f"list takes a scope ({'|'.join(LIST_SCOPES)}) and one service, "
            f"got {' '.join(args)!r}: {example('list', prefix)}"
        )
    if args:
        service = args[0]
    return ListIncidents(scope, service)


def _build_silence(args: list[str], prefix: str) -> SilenceAlerts | CommandError:
    how = example("silence", prefix)
    target, duration_text, comment = _arg(args, 0), _arg(args, 1), _arg(args, 2)
    if not target:
        return CommandError(f"silence needs matchers and a duration: {how}")
    if not duration_text:
        return CommandError(f"silence needs a duration like 2h after the matchers: {how}")
    try:
        duration = parse_duration(duration_text)
    except DurationError:
        return CommandError(
            f"silence: {duration_text!r} is not a duration (write 30m, 2h or 1d) "
            f"after the matchers: {how}"
        )
    if duration <= timedelta(0):
        return CommandError(f"silence: the duration must be longer than 0s: {how}")
    ident = target.removeprefix("#")
    if ident.isascii() and ident.isdigit():
        return SilenceAlerts((), duration, comment, incident_id=int(ident))
    try:
        matchers = parse_matchers(target)
    except MatcherError as exc:
        return CommandError(f"silence: {exc}: {how}")
    if not matchers or all(m.matches({}) for m in matchers):
        return CommandError(
            "silence: at least one matcher must need a non-empty label "
            f"(this would silence every alert): {how}"
        )
    return SilenceAlerts(tuple(matchers), duration, comment)


# --------------------------------------------------------------------------- execution


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs a command: the firebell user they map to (None if unknown) and where from."""

    user: str | None
    surface: Surface
    raw_id: str = ""  # the chat user id (Slack U…, Discord snowflake), empty for cli/api
    handle: str = ""  # the chat display name, for the timeline when the user is unknown

    @property
    def name(self) -> str:
        """The name written to the timeline."""
        if self.user:
            return self.user
        if self.surface in ("cli", "api"):
            return self.surface
        return f"{self.surface}:{self.handle or self.raw_id}"


def slack_actor(config: PolicyConfig, user_id: str, handle: str = "") -> Actor:
    user = config.user_by_slack_id(user_id)
    return Actor(user.name if user else None, "slack", user_id, handle)


def discord_actor(config: PolicyConfig, user_id: str, handle: str = "") -> Actor:
    user = config.user_by_discord_id(user_id)
    return Actor(user.name if user else None, "discord", user_id, handle)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    visibility: Visibility = "ephemeral"
    incident_id: int | None = None
    changed: bool = False
    ok: bool = True
    action: str | None = None  # what changed: ack, resolve, note, page, silence, unsilence
    incident: Mapping[str, Any] | None = None  # the incident shown/changed, for rich rendering


def _error(text: str) -> Reply:
    return Reply(text, "ephemeral", ok=False)


# Called after a committed change: (incident id, action), e.g. to edit chat messages.
ChangeHook = Callable[[int, str], None]
# Runs a playbook by name; None when playbooks are not available.
PlaybookRunner = Callable[[int, str, Actor], Awaitable[str]]
# Submits a manual alert through the intake; returns the incident id it landed in.
AlertSubmitter = Callable[[Alert, bytes], Awaitable[int | None]]


@dataclass
class CommandContext:
    engine: Engine
    config: PolicyConfig
    clock: Callable[[], datetime]
    submit_alert: AlertSubmitter | None = None
    allow_unknown_users: bool = False
    changed: Sequence[ChangeHook] = ()
    playbooks: Mapping[str, Any] = field(default_factory=dict)
    run_playbook: PlaybookRunner | None = None
    prefix: str = DEFAULT_PREFIX


def may_write(actor: Actor, ctx: CommandContext) -> bool:
    # The CLI runs with the config's own rights; the API has checked its bearer token.
    return actor.user is not None or actor.surface in ("cli", "api") or ctx.allow_unknown_users


def _denied(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    id_field = "slack_id" if actor.surface == "slack" else "discord_id"
    return _error(
        f"you are not linked to a firebell user ({actor.surface} id {actor.raw_id}), "
        f"so you may only read ({', '.join(READ_ONLY)}), not {command.name}. "
        f"To change incidents, add `{id_field}: {actor.raw_id}` to your entry under `users:` "
        f"in the firebell config (or set {actor.surface}.allow_unknown_users: true)."
    )


async def execute(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    """Run one command; errors become ephemeral replies saying what to do instead."""
    if command.writes and not may_write(actor, ctx):
        return _denied(command, actor, ctx)
    try:
        reply = await _dispatch(command, actor, ctx)
    except incidents.IncidentNotFound as exc:
        return _error(f"{exc} (see {ctx.prefix} list all)")
    except incidents.InvalidTransition as exc:
        return _error(str(exc))
    if reply.changed and reply.incident_id is not None and reply.action:
        for hook in ctx.changed:
            hook(reply.incident_id, reply.action)
    return reply


async def _dispatch(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    if isinstance(command, Help):
        return Reply(help_text(command.topic, ctx.prefix))
    if isinstance(command, Page):
        return await _page(command, actor, ctx)
    if isinstance(command, RunPlaybook):
        return await _run(command, actor, ctx)
    return await asyncio.to_thread(_in_database, command, actor, ctx)


def _in_database(command: Command, actor: Actor, ctx: CommandContext) -> Reply:
    now = ctx.clock()
    zone = _zone_of(actor, ctx.config)
    if isinstance(command, ListIncidents):
        with ctx.engine.connect() as conn:
            return _list(conn, command, now, zone)
    if isinstance(command, ShowIncident):
        with ctx.engine.connect() as conn:
            item = incidents.get_incident(conn, command.incident_id)
        return Reply(show_text(item, zone), incident_id=command.incident_id, incident=item)
    if isinstance(command, Oncall):
        return _oncall(command, ctx.config, now, zone, ctx.prefix)
    if isinstance(command, ListSilences):
        with ctx.engine.connect() as conn:
            views = silences.list_current(conn, now, ctx.config.silences)
        return Reply(silences_text(views, zone, ctx.prefix))
    with ctx.engine.begin() as conn:
        return _change(conn, command, actor, ctx, now, zone)


def _change(
    conn: Connection,
    command: Command,
    actor: Actor,
    ctx: CommandContext,
    now: datetime,
    zone: ZoneInfo,
) -> Reply:
    who = actor.name
    if isinstance(command, Ack):
        item = incidents.acknowledge(conn, command.incident_id, who, now)
        stop_escalations(conn, command.incident_id, now, f"acknowledged by {who}", who)
        return _changed(f"acknowledged by {who}", item, "ack")
    if isinstance(command, Resolve):
        item = incidents.resolve(conn, command.incident_id, who, now, command.note)
        stop_escalations(conn, command.incident_id, now, f"resolved by {who}", who)
        note = f": {command.note}" if command.note else ""
        return _changed(f"resolved by {who}{note}", item, "resolve")
    if isinstance(command, Note):
        incidents.add_note(conn, command.incident_id, who, now, command.text)
        item = incidents.get_incident(conn, command.incident_id, details=False)
        return _changed(f"note by {who}: {command.text}", item, "note")
    if isinstance(command, SilenceAlerts):
        return _silence(conn, command, actor, ctx, now, zone)
    if isinstance(command, Unsilence):
        try:
            view = silences.expire(conn, command.silence_id, who, now, ctx.config.silences)
        except silences.SilenceNotFound:
            return _error(f"no silence {command.silence_id!r}: see {ctx.prefix} silences")
        except (silences.SilenceReadOnly, silences.SilenceAlreadyExpired) as exc:
            return _error(str(exc))
        matchers = ",".join(str(m) for m in view.silence.matchers)
        return Reply(
            f"{who} ended silence {view.id} ({matchers})", "public", changed=True,
            action="unsilence",
        )  # fmt: skip
    raise TypeError(f"not a state-changing command: {command!r}")


def _changed(what: str, item: Mapping[str, Any], action: str) -> Reply:
    text = f"Incident #{item['id']} {what} · {item['title']}"
    return Reply(text, "public", item["id"], True, action=action, incident=item)


# --------------------------------------------------------------------------- list / show


def _zone_of(actor: Actor, config: PolicyConfig) -> ZoneInfo:
    """Times are shown in the reader's zone when we know who they are."""
    user = config.users_by_name.get(actor.user) if actor.user else None
    return user.time_zone if user else ZoneInfo("UTC")


def _when(value: str | datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone.key)


def _ago(value: str | None, now: datetime) -> str:
    if not value:
        return ""
    delta = now - datetime.fromisoformat(value)
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{format_duration(timedelta(minutes=int(delta.total_seconds() // 60)))} ago"


def _status(item: Mapping[str, Any]) -> str:
    if item["status"] == "acknowledged" and item.get("acknowledged_by"):
        return f"acknowledged by {item['acknowledged_by']}"
    if item["status"] == "resolved" and item.get("resolved_by"):
        return f"resolved by {item['resolved_by']}"
    return str(item["status"])


def incident_line(item: Mapping[str, Any], now: datetime) -> str:
    alerts = f"{item['alert_count']} alert{'s' if item['alert_count'] != 1 else ''}"
    return (
        f"#{item['id']} [{item['severity']}] {item['status']} · {item['service']} · "
        f"{item['title']} ({alerts}, opened {_ago(item['created_at'], now)})"
    )


def _list(conn: Connection, command: ListIncidents, now: datetime, zone: ZoneInfo) -> Reply:
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
    if not items:
        return Reply(f"No {what}{where}.")
    more = len(items) > MAX_LIST
    lines = [f"{what.capitalize()}{where}{' (newest ' + str(MAX_LIST) + ')' if more else ''}:"]
    lines += [incident_line(item, now) for item in items[:MAX_LIST]]
    return Reply("\n".join(lines))


def show_text(item: Mapping[str, Any], zone: ZoneInfo) -> str:
    lines = [
        f"Incident #{item['id']}: {item['title']}",
        f"Status: {_status(item)}",
        f"Severity: {item['severity']} · Service: {item['service']} · "
        f"Alerts: {item['alert_count']} ({item['open_alert_count']} open)",
        f"Opened: {_when(item['created_at'], zone)}",
    ]
    alerts = item.get("alerts") or []
    if alerts:
        lines.append("Alerts:")
        for alert in alerts[:10]:
            instance = alert["labels"].get("instance")
            where = f" on {instance}" if instance else ""
            lines.append(
                f"- [{alert['status']}] {alert['title']}{where} "
                f"({alert['source']}, {_times(alert['occurrences'])})"
            )
        if len(alerts) > 10:
            lines.append(f"- … and {len(alerts) - 10} more")
    timeline = item.get("timeline") or []
    if timeline:
        latest = f" (latest {TIMELINE_SHOWN})" if len(timeline) > TIMELINE_SHOWN else ""
        lines.append(f"Timeline{latest}:")
        for entry in timeline[-TIMELINE_SHOWN:]:
            lines.append(f"- {_when(entry['at'], zone)} {entry['actor']}: {entry['message']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- on call


def _oncall(
    command: Oncall, config: PolicyConfig, now: datetime, zone: ZoneInfo, prefix: str
) -> Reply:
    if command.schedule is not None:
        try:
            chosen = [config.schedule(command.schedule)]
        except KeyError as exc:
            return _error(f"{exc.args[0]}: {example('oncall', prefix)}")
    else:
        chosen = list(config.schedules)
    if not chosen:
        return Reply("No schedules are configured (add `schedules:` to the firebell config).")
    return Reply("\n".join(oncall_line(s, now, zone) for s in chosen))


def oncall_line(schedule: Schedule, now: datetime, zone: ZoneInfo) -> str:
    current = oncall_at(schedule, now)
    who = ", ".join(current) or "nobody"
    upcoming = next_handoffs(schedule, now, 1)
    if not upcoming:
        return f"{schedule.name}: {who}"
    shift = upcoming[0]
    return f"{schedule.name}: {who} until {_when(shift.at, zone)}, then {shift.user or 'nobody'}"


# --------------------------------------------------------------------------- silences


def _silence(
    conn: Connection,
    command: SilenceAlerts,
    actor: Actor,
    ctx: CommandContext,
    now: datetime,
    zone: ZoneInfo,
) -> Reply:
    matchers = list(command.matchers)
    item: Mapping[str, Any] | None = None
    if command.incident_id is not None:
        item = incidents.get_incident(conn, command.incident_id, details=False)
        matchers = incident_matchers(item)
    silence = silences.create(
        conn,
        Silence(
            matchers=matchers,
            starts_at=now,
            ends_at=now + command.duration,
            created_by=actor.name,
            comment=command.comment,
        ),
        now,
    )
    shown = ",".join(str(m) for m in silence.matchers)
    comment = f": {command.comment}" if command.comment else ""
    until = _when(silence.ends_at, zone)
    text = (
        f"{actor.name} silenced {shown} for {format_duration(command.duration)} "
        f"(until {until}, id {silence.id}){comment}"
    )
    if item is None:
        return Reply(text, "public", changed=True, action="silence")
    incident_id = int(item["id"])
    incidents.add_timeline(
        conn, incident_id, now, "silenced", text, actor.name, {"silence_id": silence.id}
    )
    # Someone silencing a page wants the paging to stop now, not only for new alerts.
    stop_escalations(conn, incident_id, now, f"silenced by {actor.name}", actor.name)
    return Reply(text, "public", incident_id, True, action="silence", incident=item)


def incident_matchers(item: Mapping[str, Any]) -> list[Matcher]:
    """Matchers for the alerts that group into an incident (its group labels)."""
    labels = {k: v for k, v in (item.get("why", {}).get("group_labels") or {}).items() if v}
    if not labels:
        labels = {"service": item["service"]}
    return [Matcher(k, MatchType.EQUAL, v) for k, v in sorted(labels.items())]


def silences_text(views: Sequence[silences.SilenceView], zone: ZoneInfo, prefix: str) -> str:
    if not views:
        return f"No active silences. Add one: {example('silence', prefix)}"
    lines = ["Silences:"]
    for view in views:
        s = view.silence
        window = (
            ("recurring" if s.recurrence else f"until {_when(s.ends_at, zone)}")
            if view.state.value == "active"
            else f"from {_when(s.starts_at, zone)}"
        )
        comment = f" · {s.comment}" if s.comment else ""
        origin = " (config)" if view.origin == "config" else ""
        lines.append(
            f"{view.id}{origin} [{view.state.value}] {','.join(str(m) for m in s.matchers)} "
            f"{window} · by {s.created_by}{comment}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- paging by hand


def _resolve_page_target(target: str, config: PolicyConfig) -> str | CommandError:
    """ "alice" -> "user:alice", "ops" -> "team:ops"; prefixed targets are checked."""
    kind, sep, name = target.partition(":")
    if sep:
        tables: dict[str, Mapping[str, Any]] = {
            "user": config.users_by_name,
            "team": config.teams_by_name,
            "schedule": config.schedules_by_name,
        }
        if kind not in tables:
            return CommandError(
                f"page: {target!r}: write a user or team name, or user:NAME, team:NAME, "
                "schedule:NAME"
            )
        if name not in tables[kind]:
            known = ", ".join(sorted(tables[kind])) or "none defined"
            return CommandError(f"page: unknown {kind} {name!r} (known: {known})")
        return f"{kind}:{name}"
    is_user, is_team = target in config.users_by_name, target in config.teams_by_name
    if is_user and is_team:
        return CommandError(
            f"page: {target!r} is both a user and a team: write user:{target} or team:{target}"
        )
    if is_user:
        return f"user:{target}"
    if is_team:
        return f"team:{target}"
    users = ", ".join(sorted(config.users_by_name)) or "none defined"
    teams = ", ".join(sorted(config.teams_by_name)) or "none defined"
    return CommandError(f"page: no user or team named {target!r} (users: {users}; teams: {teams})")


def manual_alert(target: str, text: str, actor: Actor, page_id: str) -> Alert:
    """The alert a hand-made page stores, so it is deduplicated, grouped and shown like any."""
    title = " ".join(text.split())[:200]
    return Alert(
        source="manual",
        fingerprint=fingerprint_of("manual", {"page": page_id}),
        status=AlertStatus.FIRING,
        severity=Severity.CRITICAL,
        service="manual",
        title=title,
        description=text,
        labels={"alertname": title, "service": "manual", "paged": target},
        annotations={"summary": text, "paged_by": actor.name},
        fingerprint_fields={"page": page_id},
    )


async def _page(command: Page, actor: Actor, ctx: CommandContext) -> Reply:
    target = _resolve_page_target(command.target, ctx.config)
    if isinstance(target, CommandError):
        return _error(f"{target.message}: {example('page', ctx.prefix)}")
    if ctx.submit_alert is None:
        return _error("paging by hand is not available here (no alert intake is running)")
    now = ctx.clock()
    try:
        recipients = resolve_targets(
            [target], now, ctx.config.users_by_name, ctx.config.teams_by_name,
            ctx.config.schedules_by_name,
        )  # fmt: skip
    except KeyError as exc:
        return _error(f"page: {exc.args[0]}")
    if not recipients:
        return _error(f"page: {target} reaches nobody right now (no contacts or nobody on call)")
    page_id = uuid.uuid4().hex
    body = json.dumps({"page": page_id, "target": target, "text": command.text, "by": actor.name})
    alert = manual_alert(target, command.text, actor, page_id)
    incident_id = await ctx.submit_alert(alert, body.encode())
    if incident_id is None:
        return _error("page: the alert was stored but opened no incident; nobody was paged")
    item = await asyncio.to_thread(
        _queue_pages, ctx, incident_id, page_id, target, recipients, actor, now
    )
    names = ", ".join(sorted({r.name for r in recipients}))
    return Reply(
        f"{actor.name} paged {target} ({names}): {command.text} · incident #{incident_id}",
        "public", incident_id, True, action="page", incident=item,
    )  # fmt: skip


def _queue_pages(
    ctx: CommandContext,
    incident_id: int,
    page_id: str,
    target: str,
    recipients: Sequence[Recipient],
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    with ctx.engine.begin() as conn:
        queue_manual_pages(conn, incident_id, page_id, recipients, now)
        incidents.add_timeline(
            conn, incident_id, now, "paged", f"{actor.name} paged {target}", actor.name,
            {"target": target, "recipients": sorted({r.name for r in recipients})},
        )  # fmt: skip
        return incidents.get_incident(conn, incident_id, details=False)


# --------------------------------------------------------------------------- playbooks


async def _run(command: RunPlaybook, actor: Actor, ctx: CommandContext) -> Reply:
    def exists() -> None:
        with ctx.engine.connect() as conn:
            incidents.get_incident(conn, command.incident_id, details=False)

    await asyncio.to_thread(exists)
    if not command.playbook:  # the "Run playbook" button names none
        if not ctx.playbooks:
            return _error(
                f"no playbooks are configured, so there is nothing to run for incident "
                f"#{command.incident_id}"
            )
        known = ", ".join(sorted(ctx.playbooks))
        return _error(
            f"which playbook? {ctx.prefix} run {command.incident_id} NAME (known: {known})"
        )
    if command.playbook not in ctx.playbooks or ctx.run_playbook is None:
        if not ctx.playbooks:
            return _error(f"no such playbook: {command.playbook} (no playbooks are configured)")
        known = ", ".join(sorted(ctx.playbooks))
        return _error(f"no such playbook: {command.playbook} (known: {known})")
    text = await ctx.run_playbook(command.incident_id, command.playbook, actor)
    return Reply(text, "public", command.incident_id, True, action="run")


# --------------------------------------------------------------------------- buttons


def button_command(action: str, incident_id: int, surface: str) -> Command:
    """What an incident button (integrations.notifiers.button.IncidentAction) does."""
    if action == "ack":
        return Ack(incident_id)
    if action == "resolve":
        return Resolve(incident_id)
    if action == "silence1h":
        return SilenceAlerts((), SILENCE_BUTTON_DURATION, f"silenced from {surface}", incident_id)
    if action == "run":
        return RunPlaybook(incident_id, "")
    raise ValueError(f"action: not an incident button action: {action!r}")


# --------------------------------------------------------------------------- help


def help_text(topic: str | None = None, prefix: str = DEFAULT_PREFIX) -> str:
    if topic:
        spec = SPECS[topic]
        return f"{prefix} {spec.usage}\n{spec.summary}\nExample: {prefix} {spec.example}"
    width = max(len(spec.usage) for spec in SPECS.values())
    lines = ["Incident commands:"]
    lines += [f"{prefix} {spec.usage.ljust(width)}  {spec.summary}" for spec in SPECS.values()]
    return "\n".join(lines)


# --------------------------------------------------------------------------- paging adapters


def stop_escalations(
    conn: Connection, incident_id: int, now: datetime, reason: str, actor: str
) -> int:
    """Stop the incident's escalations in this transaction (routing.escalation_store)."""
    from routing.escalation_store import stop_escalations as stop

    return stop(conn, incident_id, now, reason, actor)


def queue_manual_pages(
    conn: Connection,
    incident_id: int,
    page_id: str,
    recipients: Sequence[Recipient],
    now: datetime,
) -> int:
    """Put one outbox row per recipient, due now; the paging worker delivers them."""
    from routing.escalation_store import NOTIFICATION, insert_ignoring_duplicates

    rows = [
        {
            "incident_id": incident_id,
            "escalation_id": None,
            "dedup_key": f"manual:{page_id}:{_digest(r.address)}",
            "kind": "page" if r.kind == "user" else "channel",
            "address": r.address,
            "recipient": r.name[:200],
            "via": r.via[:200],
            "policy": None,
            "step": "paged by hand",
            "created_at": now,
            "first_due_at": now,
            "next_attempt_at": now,
        }
        for r in recipients
    ]
    return insert_ignoring_duplicates(conn, NOTIFICATION, rows)


def _digest(address: str) -> str:
    # Addresses may hold tokens: the key carries a digest, never the address.
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def _times(count: int) -> str:
    return f"{count} time{'s' if count != 1 else ''}"
