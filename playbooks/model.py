"""A playbook file as data: its params, its match, its steps (validated by pydantic).

Templates inside `with` and `if` stay text here; playbooks.loader compiles them and checks
every step against its action (playbooks.registry) and the configured connections.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from routing.basics.field import Duration
from routing.muting.matcher import Matcher

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PARAM_NAME = r"^[a-z_][a-z0-9_]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ParamSpec(_Strict):
    """One typed parameter; values given at run time are checked against it."""

    type: Literal["string", "duration", "int", "bool", "choice"]
    description: str = ""
    default: Any = None  # None: the param is required
    max: Any = None  # duration / int
    min: Any = None  # duration / int
    pattern: str | None = None  # string: a full-match regular expression
    choices: list[str] | None = None  # choice


class Retry(_Strict):
    attempts: int = Field(default=1, ge=1, le=10)  # tries in all, the first included
    backoff: Duration = timedelta(seconds=5)  # doubled after each failed try


class Wait(_Strict):
    """`wait:` on a remote step (CI): follow the remote run to its end, at most `timeout`."""

    timeout: Duration = timedelta(minutes=30)

    @field_validator("timeout")
    @classmethod
    def _timeout_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=24):
            raise ValueError("must be between 1s and 24h")
        return value


APPROVER = r"^(user|team|oncall):[A-Za-z0-9][A-Za-z0-9._-]*$"


class Approval(_Strict):
    """`approval:` on a step: it runs only once `required` distinct permitted people
    approved the exact request (see playbooks.approval_rules)."""

    approvers: list[str] = Field(min_length=1)  # user:NAME, team:NAME, oncall:SCHEDULE
    required: int = Field(default=1, ge=1, le=10)
    expires_in: Duration = timedelta(hours=1)
    show: list[str] = Field(default_factory=list)  # earlier steps whose outputs it shows
    remind_before: Duration | None = None  # None: a fifth of expires_in

    @field_validator("approvers")
    @classmethod
    def _approver_shape(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(APPROVER, item):
                raise ValueError(f'"{item}" is not user:NAME, team:NAME or oncall:SCHEDULE')
        return value

    @field_validator("expires_in")
    @classmethod
    def _expiry_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
            raise ValueError("must be between 1m and 7d")
        return value

    @model_validator(mode="after")
    def _remind_inside(self) -> Approval:
        if self.remind_before is not None and self.remind_before >= self.expires_in:
            raise ValueError("remind_before must be shorter than expires_in")
        return self

    @property
    def reminder_lead(self) -> timedelta:
        return self.remind_before if self.remind_before is not None else self.expires_in / 5


class Step(_Strict):
    id: str = Field(pattern=IDENT)
    uses: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    if_: str | None = Field(default=None, alias="if")  # a sandboxed Jinja expression
    continue_on_error: bool = False  # a failure does not stop the run
    always: bool = False  # runs even after an earlier failure or a cancel
    timeout: Duration = timedelta(seconds=60)
    retry: Retry = Field(default_factory=Retry)
    wait: Wait | None = None  # remote actions only (checked by playbooks.catalog)
    approval: Approval | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=1):
            raise ValueError("must be between 1s and 1h")
        return value


class PlaybookFile(_Strict):
    id: str = Field(pattern=IDENT)
    description: str = ""
    version: int | None = None
    match: list[str] = Field(default_factory=list)  # matcher strings, as silences use
    run: Literal["manual", "on_open"] = "manual"
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_step_ids(self) -> PlaybookFile:
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            if step.id in seen:
                raise ValueError(f'steps[{index}].id: "{step.id}" is used by an earlier step')
            seen.add(step.id)
        return self


@dataclass(frozen=True, slots=True)
class Playbook:
    """A loaded playbook: the file's model, where it came from, its parsed matchers."""

    spec: PlaybookFile
    path: Path
    sha256: str  # of the file's bytes: runs record it (part 2 binds approvals to it)
    matchers: tuple[Matcher, ...]

    @property
    def id(self) -> str:
        return self.spec.id


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
