"""The incident commands as values: what each one asks for, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from routing.muting.matcher import Matcher
from routing.muting.silence import Recurrence


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
    """Silence by matchers, or (incident_id set) by the labels that group an incident:
    for `duration`, or (`recurrence` set, duration None) in weekly windows until ended."""

    name: ClassVar[str] = "silence"
    writes: ClassVar[bool] = True
    matchers: tuple[Matcher, ...]
    duration: timedelta | None
    comment: str = ""
    incident_id: int | None = None
    recurrence: Recurrence | None = None


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
    """Start a playbook (or, `dry_run`, show what it would send); no playbook: offer the
    ones matching the incident (the "Run playbook" button)."""

    name: ClassVar[str] = "run"
    writes: ClassVar[bool] = True
    incident_id: int
    playbook: str
    params: tuple[tuple[str, str], ...] = ()  # k=v as given; the service checks them
    dry_run: bool = False


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
