"""Text, Discord options or a button press -> a Command, or a CommandError saying how to fix it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from bot.commands.model import (
    Ack,
    Command,
    CommandError,
    Help,
    ListIncidents,
    ListSilences,
    Note,
    Oncall,
    Page,
    Resolve,
    RunPlaybook,
    ShowIncident,
    SilenceAlerts,
    Unsilence,
)
from bot.commands.specs import ALIASES, DEFAULT_PREFIX, LIST_SCOPES, SPECS, example, usage
from playbooks.model import PARAM_NAME
from routing.basics.duration import DurationError, parse_duration
from routing.basics.storable import storable_text
from routing.muting.matcher import MatcherError, parse_matchers
from routing.muting.silence import Recurrence

SILENCE_BUTTON_DURATION = timedelta(hours=1)


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
        return unknown_command(words[0], prefix)
    spec = SPECS[name]
    rest = words[1] if len(words) > 1 else ""
    if name == "run":  # any number of k=v words, and a flag
        return _run_from_words(tokenize(rest), prefix)
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
        return unknown_command(name, prefix)
    if name == "run":
        params = options.get("params")
        return _build_run(
            str(options.get("id") or "").strip(),
            str(options.get("playbook") or "").strip(),
            tokenize(str(params)) if params else [],
            options.get("dry_run") in (True, "true", "True"),
            prefix,
        )
    values = [options.get(option) for option in SPECS[name].options]
    args = ["" if value is None else str(value).strip() for value in values]
    while args and not args[-1]:
        args.pop()
    return _build(name, args, prefix)


def _count(number: int, noun: str) -> str:
    return f"no {noun}s" if number == 0 else f"{number} {noun}{'s' if number != 1 else ''}"


def unknown_command(word: str, prefix: str) -> CommandError:
    close = difflib.get_close_matches(word.lower(), [*SPECS, *ALIASES], n=1)
    hint = f"did you mean {prefix} {ALIASES.get(close[0], close[0])}? " if close else ""
    return CommandError(
        f"unknown command {word!r}: {hint}Commands: {', '.join(SPECS)}. Try {prefix} help"
    )


def _arg(args: list[str], index: int) -> str:
    return args[index] if index < len(args) else ""


# Incident ids are INTEGER on PostgreSQL (as bot.http.fields.MAX_ROW_ID): a larger one
# cannot exist, and PostgreSQL refuses it as a parameter with an error.
MAX_INCIDENT_ID = 2**31 - 1


def _incident_id(name: str, text: str, prefix: str) -> int | CommandError:
    value = text.removeprefix("#")
    if not text:
        return CommandError(f"{name} needs an incident id: {example(name, prefix)}")
    if not (value.isascii() and value.isdigit()) or len(value) > 18 or int(value) == 0:
        return CommandError(
            f"{name}: {text!r} is not an incident id (a number like 42): {example(name, prefix)}"
        )
    if int(value) > MAX_INCIDENT_ID:  # never handed to the database: it overflows INTEGER
        return CommandError(f"incident {int(value)} not found (see {prefix} list all)")
    return int(value)


def _build(name: str, args: list[str], prefix: str) -> Command | CommandError:
    if any(storable_text(arg) != arg for arg in args):
        # Refused, as the REST API refuses it: a person can retype, and PostgreSQL
        # stores no NUL (routing.basics.storable).
        return CommandError(
            f"{name}: the text holds a NUL character or a lone surrogate, which "
            f"cannot be stored: remove it ({example(name, prefix)})"
        )
    if name == "list":
        return _build_list([a for a in args if a], prefix)
    if name in ("show", "ack", "resolve", "note"):
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
        return unknown_command(topic, prefix)
    return Help(ALIASES.get(topic, topic) if topic else None)


DRY_RUN_FLAG = "--dry-run"
MAX_PARAMS = 20
_PARAM_NAME = re.compile(PARAM_NAME)


def _run_from_words(words: list[str], prefix: str) -> RunPlaybook | CommandError:
    """`run ID NAME [k=v ...] [--dry-run]`; the flag may come anywhere after `run`."""
    dry_run = DRY_RUN_FLAG in words
    words = [w for w in words if w != DRY_RUN_FLAG]
    return _build_run(_arg(words, 0), _arg(words, 1), words[2:], dry_run, prefix)


def _build_run(
    ident_text: str, playbook: str, param_words: list[str], dry_run: bool, prefix: str
) -> RunPlaybook | CommandError:
    how = example("run", prefix)
    if any(storable_text(w) != w for w in (ident_text, playbook, *param_words)):
        return CommandError(
            f"run: the text holds a NUL character or a lone surrogate, which cannot be "
            f"stored: remove it ({how})"
        )
    ident = _incident_id("run", ident_text, prefix)
    if isinstance(ident, CommandError):
        return ident
    if not playbook or playbook.startswith("-") or "=" in playbook:
        return CommandError(f"run needs a playbook name after the incident id: {how}")
    params = parse_params(param_words)
    if isinstance(params, CommandError):
        return CommandError(f"run: {params.message}: {how}")
    return RunPlaybook(ident, playbook, params, dry_run)


def parse_params(words: list[str]) -> tuple[tuple[str, str], ...] | CommandError:
    """`name=value` words (a value may be double-quoted, with \\ and \\" escapes) in the
    order given; the playbook's own param specs check names and values later."""
    params: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if word.startswith("--"):
            return CommandError(f"unknown option {word!r} (only {DRY_RUN_FLAG})")
        if not equals or not _PARAM_NAME.fullmatch(key):
            return CommandError(f"{word!r} is not a parameter (write name=value, like window=1h)")
        if key in params:
            return CommandError(f"parameter {key!r} is given twice")
        unquoted = _unquote(value)
        if unquoted is None:
            return CommandError(f"parameter {key!r}: the value's double quotes do not pair up")
        params[key] = unquoted
    if len(params) > MAX_PARAMS:
        return CommandError(f"at most {MAX_PARAMS} parameters")
    return tuple(params.items())


def _unquote(value: str) -> str | None:
    """A value as written, or the inside of a double-quoted one; None when unterminated."""
    if not value.startswith('"'):
        return value
    out: list[str] = []
    i = 1
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out) if i == len(value) - 1 else None
        out.append(char)
        i += 1
    return None


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


MAX_SILENCE = timedelta(days=3650)


def _build_silence(args: list[str], prefix: str) -> SilenceAlerts | CommandError:
    how = example("silence", prefix)
    target, duration_text, comment = _arg(args, 0), _arg(args, 1), _arg(args, 2)
    if not target:
        return CommandError(f"silence needs matchers and a duration: {how}")
    if not duration_text:
        return CommandError(f"silence needs a duration like 2h after the matchers: {how}")
    duration: timedelta | None = None
    recurrence: Recurrence | None = None
    if duration_text.lower().startswith(EVERY):
        try:
            recurrence = parse_every(duration_text)
        except ValueError as exc:
            return CommandError(f"silence: {exc}: {prefix} silence {RECURRING_EXAMPLE}")
    else:
        try:
            duration = parse_duration(duration_text)
        except DurationError:
            return CommandError(
                f"silence: {duration_text!r} is not a duration (write 30m, 2h or 1d) "
                f"or a weekly window (every:DAYS/HH:MM-HH:MM[/ZONE]) after the matchers: {how}"
            )
        if duration <= timedelta(0):
            return CommandError(f"silence: the duration must be longer than 0s: {how}")
        if duration > MAX_SILENCE:
            # Past this the end falls off the calendar; a standing mute is a recurring one.
            return CommandError(
                f"silence: at most {MAX_SILENCE.days}d; for a standing mute use a weekly "
                f"window that runs until ended: {prefix} silence {RECURRING_EXAMPLE}"
            )
    ident = target.removeprefix("#")
    if ident.isascii() and ident.isdigit():
        return SilenceAlerts((), duration, comment, int(ident), recurrence)
    try:
        matchers = parse_matchers(target)
    except MatcherError as exc:
        return CommandError(f"silence: {exc}: {how}")
    if not matchers or all(m.matches({}) for m in matchers):
        return CommandError(
            "silence: at least one matcher must need a non-empty label "
            f"(this would silence every alert): {how}"
        )
    return SilenceAlerts(tuple(matchers), duration, comment, recurrence=recurrence)


EVERY = "every:"
RECURRING_EXAMPLE = "service=db every:sun/02:00-04:00/Europe/Madrid backups"


def parse_every(text: str) -> Recurrence:
    """`every:DAYS[/HH:MM-HH:MM[,...]][/ZONE]` as one word (it fills the duration slot, so
    Discord's options take it too) into the config's `recurrence` grammar: DAYS is
    `daily`, `sun`, `mon-fri` or `sat,sun`; a range ending before it starts crosses
    midnight; the zone defaults to UTC."""
    days, _, rest = text[len(EVERY) :].partition("/")
    times, _, zone = rest.partition("/")
    if not days:
        raise ValueError(f"{text!r} names no days (write daily, sun, mon-fri or sat,sun)")
    fields: dict[str, Any] = {
        "weekdays": [] if days.lower() in ("daily", "day") else [days],
        "times": [t for t in times.split(",") if t],
    }
    if zone:
        fields["time_zone"] = zone
    try:
        return Recurrence.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{text!r}: {first['msg'].removeprefix('Value error, ')}") from None


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
