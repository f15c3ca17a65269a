"""The playbook catalog: every *.yaml / *.yml file of the configured folder, checked
whole at load, and which playbooks match an incident's labels.

Everything that can be known before a run is checked here, so `firebell check-config`
names it with its file and path (`playbooks/api-5xx.yaml: steps[2].with.connection:
unknown connection "x"`): the file's shape, its params' specs, its matchers, each
step's action, connection and `with` keys, template syntax, and what templates read
(declared params, earlier steps, the four context names). Values that are templates
are checked against the action's model when rendered, at run time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from integrations.connections import ConnectionBase
from playbooks.action import Action, is_remote
from playbooks.model import IDENT, Playbook, PlaybookFile, Step, file_hash
from playbooks.params import spec_problems
from playbooks.registry import ACTIONS
from playbooks.templates import (
    CONTEXT_NAMES,
    expression_problems,
    references,
    template_problems,
    templated_strings,
)
from playbooks.yaml_source import read_playbook_file, with_line
from routing.muting.matcher import Matcher, MatcherError, matches, parse_matchers
from routing.paging.policy import PolicyConfig

# Names a template may read besides the context: Jinja's loop variable and our globals.
_TEMPLATE_NAMES = CONTEXT_NAMES | {"loop", "range", "dict"}


class PlaybookErrors(ValueError):
    """The playbooks cannot load: every problem, each as (file as configured, message)."""

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        self.entries = list(entries)
        super().__init__("\n".join(self.problems))

    @property
    def problems(self) -> list[str]:
        return [f"{where}: {message}" for where, message in self.entries]


@dataclass(frozen=True)
class Catalog:
    playbooks: Mapping[str, Playbook] = field(default_factory=dict)
    connections: Mapping[str, ConnectionBase] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # every configured secret value: outputs are redacted of them
    # users, teams and schedules: who `approval:` approvers name (playbooks.approval_rules)
    people: PolicyConfig = field(default_factory=PolicyConfig, compare=False)

    def get(self, name: str) -> Playbook | None:
        return self.playbooks.get(name)

    def matching(self, labels: Mapping[str, str]) -> list[Playbook]:
        """The playbooks whose every matcher matches `labels` (no matcher: every incident)."""
        return [p for p in self.playbooks.values() if matches(p.matchers, labels)]


def load_catalog(
    folder: Path | None,
    connections: Mapping[str, ConnectionBase],
    secrets: Sequence[str],
    shown_as: str | None = None,
    people: PolicyConfig | None = None,
) -> Catalog:
    """Every playbook of `folder` (None: none), or PlaybookErrors naming each problem by
    its file, written as `shown_as/<file>` (the folder as the config writes it).
    `people`: the users, teams and schedules approvers may name (None: none)."""
    people = people if people is not None else PolicyConfig()
    loaded: dict[str, Playbook] = {}
    seen: dict[str, str] = {}  # id -> the file that has it
    problems: list[tuple[str, str]] = []
    if folder is not None:
        if not folder.is_dir():
            where = shown_as or str(folder)
            raise PlaybookErrors([(where, "the playbooks folder does not exist")])
        prefix = PurePath(shown_as) if shown_as else folder
        files = [f for f in folder.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file()]
        for path in sorted(files, key=lambda f: f.name):
            if path.name.startswith("."):
                continue  # editor and sync leftovers
            where = str(prefix / path.name)
            playbook_id, playbook, found = _load_file(path, connections, people)
            problems += [(where, message) for message in found]
            if playbook_id is None:
                continue
            if playbook_id in seen:
                problems.append(
                    (where, f'id: "{playbook_id}" is already the id of {seen[playbook_id]}')
                )
                continue
            seen[playbook_id] = where
            if playbook is not None:
                loaded[playbook.id] = playbook
    if problems:
        raise PlaybookErrors(problems)
    return Catalog(dict(loaded), dict(connections), tuple(secrets), people)


def folder_fingerprint(folder: Path | None) -> tuple[tuple[str, str], ...]:
    """(file name, sha256) of every playbook file of `folder`: a change of any file, or a
    file added or removed, changes it (the worker reloads the catalog on a change)."""
    if folder is None or not folder.is_dir():
        return ()
    found = []
    for path in sorted(folder.iterdir(), key=lambda f: f.name):
        if path.suffix in (".yaml", ".yml") and path.is_file() and not path.name.startswith("."):
            try:
                found.append((path.name, file_hash(path.read_bytes())))
            except OSError:
                found.append((path.name, ""))
    return tuple(found)


def _path(loc: Sequence[str | int]) -> str:
    """("steps", 2, "with", "connection") -> steps[2].with.connection."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_problems(exc: ValidationError) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(loc, message) of each pydantic error, in the words check-config uses."""
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            if message.startswith("Input should"):
                message = "must" + message.removeprefix("Input should")
        yield loc, message


def _load_file(
    path: Path, connections: Mapping[str, ConnectionBase], people: PolicyConfig
) -> tuple[str | None, Playbook | None, list[str]]:
    """The file's id (when it has a valid one), its playbook (None: problems), problems."""
    try:
        raw, data, lines = read_playbook_file(path)
    except ValueError as exc:
        return None, None, [str(exc)]
    playbook_id, playbook, problems = _check_file(path, raw, data, connections, people)
    return playbook_id, playbook, [with_line(problem, lines) for problem in problems]


def _check_file(
    path: Path,
    raw: bytes,
    data: Any,
    connections: Mapping[str, ConnectionBase],
    people: PolicyConfig,
) -> tuple[str | None, Playbook | None, list[str]]:
    if not isinstance(data, dict):
        return None, None, ["a playbook file is a mapping (id:, match:, params:, steps:)"]
    given_id = data.get("id")
    playbook_id = given_id if isinstance(given_id, str) and re.fullmatch(IDENT, given_id) else None
    try:
        spec = PlaybookFile.model_validate(data)
    except ValidationError as exc:
        found = [f"{_path(loc)}: {text}" if loc else text for loc, text in _model_problems(exc)]
        return playbook_id, None, found
    problems: list[str] = []
    matchers: list[Matcher] = []
    for index, text in enumerate(spec.match):
        try:
            matchers += parse_matchers(text)
        except MatcherError as exc:
            problems.append(f"match[{index}]: {exc}")
    for name, param in spec.params.items():
        problems += spec_problems(name, param)
    for index, step in enumerate(spec.steps):
        earlier = [s.id for s in spec.steps[:index]]
        problems += _step_problems(step, f"steps[{index}]", spec, earlier, connections)
        problems += _gate_problems(step, f"steps[{index}]", earlier, people)
    if problems:
        return spec.id, None, problems
    return spec.id, Playbook(spec, path, file_hash(raw), tuple(matchers)), []


def _step_problems(
    step: Step,
    where: str,
    spec: PlaybookFile,
    earlier: list[str],
    connections: Mapping[str, ConnectionBase],
) -> list[str]:
    problems = template_problems(step.with_, f"{where}.with")
    if step.if_ is not None:
        problems += expression_problems(step.if_, f"{where}.if")
    problems += _reference_problems(step, where, spec, earlier)
    action = ACTIONS.get(step.uses)
    if action is None:
        close = difflib.get_close_matches(step.uses, list(ACTIONS), n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        known = ", ".join(ACTIONS)
        return [*problems, f'{where}.uses: unknown action "{step.uses}" ({hint}known: {known})']
    problems += _connection_problems(action, step.with_, f"{where}.with", connections)
    problems += _with_problems(action, step.with_, f"{where}.with")
    return problems


def _gate_problems(step: Step, where: str, earlier: list[str], people: PolicyConfig) -> list[str]:
    """`wait:` only where the action can wait (remote actions); `approval:` approvers
    that name configured users, teams and schedules; `show:` earlier steps."""
    problems: list[str] = []
    action = ACTIONS.get(step.uses)
    if step.wait is not None and action is not None and not is_remote(action):
        problems.append(
            f"{where}.wait: {step.uses} cannot wait (only remote actions can: "
            f"{', '.join(n for n, a in ACTIONS.items() if is_remote(a)) or 'none'})"
        )
    if "timeout" in step.model_fields_set and action is not None and is_remote(action):
        # Each CI call has its connection's `timeout`; how long to follow is `wait.timeout`.
        problems.append(
            f"{where}.timeout: {step.uses} does not use it (each call has the connection's "
            "timeout; follow the run at most `wait: {timeout: ...}`)"
        )
    if step.approval is None:
        return problems
    known: dict[str, Mapping[str, object]] = {
        "user": people.users_by_name,
        "team": people.teams_by_name,
        "oncall": people.schedules_by_name,
    }
    words = {"user": "users", "team": "teams", "oncall": "schedules"}
    for index, approver in enumerate(step.approval.approvers):
        kind, _, name = approver.partition(":")
        if name not in known[kind]:
            configured = ", ".join(sorted(known[kind])) or "none configured"
            problems.append(
                f'{where}.approval.approvers[{index}]: unknown {kind} "{name}" '
                f"({words[kind]}: {configured})"
            )
    for index, name in enumerate(step.approval.show):
        if name not in earlier:
            problems.append(f'{where}.approval.show[{index}]: "{name}" is not an earlier step')
    return problems


def _reference_problems(
    step: Step, where: str, spec: PlaybookFile, earlier: list[str]
) -> list[str]:
    sources = list(templated_strings(step.with_, f"{where}.with"))
    problems: list[str] = []
    checks = [(path, source, False) for path, source in sources]
    if step.if_ is not None:
        checks.append((f"{where}.if", step.if_, True))
    declared = ", ".join(spec.params) or "none"
    for path, source, is_expression in checks:
        try:
            read = references(source, is_expression)
        except TemplateSyntaxError:
            continue  # template_problems reports it
        for root, key in sorted(read):
            if not key and root not in _TEMPLATE_NAMES:
                names = ", ".join(sorted(CONTEXT_NAMES))
                problems.append(f'{path}: unknown name "{root}" (templates read {names})')
            elif root == "params" and key and key not in spec.params:
                problems.append(f'{path}: unknown param "{key}" (declared: {declared})')
            elif root == "steps" and key and key not in earlier:
                if key in (s.id for s in spec.steps):
                    problems.append(f'{path}: step "{key}" has not run yet at this step')
                else:
                    problems.append(f'{path}: unknown step "{key}"')
    return problems


def _connection_problems(
    action: Action, given: Mapping[str, Any], where: str, connections: Mapping[str, ConnectionBase]
) -> list[str]:
    if not action.connection_types:
        return []  # the args model refuses a `connection` key it does not have
    wanted = " or ".join(sorted(action.connection_types))
    name = given.get("connection")
    if name is None:
        return [f"{where}.connection: required (the name of a {wanted} connection)"]
    if not isinstance(name, str) or "{" in name:
        return [f"{where}.connection: must be the name of a connection, not a template"]
    connection = connections.get(name)
    if connection is None:
        fitting = sorted(n for n, c in connections.items() if c.type in action.connection_types)
        hint = f"{wanted} connections: {', '.join(fitting)}" if fitting else "none configured"
        return [f'{where}.connection: unknown connection "{name}" ({hint})']
    if connection.type not in action.connection_types:
        return [
            f'{where}.connection: connection "{name}" is of type {connection.type}; '
            f"{action.name} needs a {wanted} connection"
        ]
    return []


def _holds_template(value: Any) -> bool:
    return next(templated_strings(value, ""), None) is not None


def _with_problems(action: Action, given: Mapping[str, Any], where: str) -> list[str]:
    """`with` against the action's model: unknown and missing keys always; a value only
    when it holds no template (a templated one is checked once rendered)."""
    try:
        action.args_model.model_validate(dict(given))
    except ValidationError as exc:
        problems = []
        for loc, message in _model_problems(exc):
            key = loc[0] if loc else None
            templated = isinstance(key, str) and key in given and _holds_template(given[key])
            if templated and message != "unknown key":
                continue
            if key == "connection" and action.connection_types:
                continue  # _connection_problems says it in its own words
            problems.append(f"{where}.{_path(loc)}: {message}" if loc else f"{where}: {message}")
        return problems
    return []
