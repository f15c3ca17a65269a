"""What every CI backend shares: the run it starts, what a dispatch and a poll return,
its protocol, and the base models of its connection and its step arguments.

A backend is pure where it can be: `plan` turns a step's validated `with` into the exact
dispatch request (shown by dry-runs and bound by approvals), `describe` shows it with
credentials as ***. The rest is I/O through the guarded outbound client.

Exactly once is the engine's job (playbooks.remote_steps); a backend helps by
- passing the correlation id (`fb-<run id>-<step id>`) to the CI, so `find` can look
  the run up after an ambiguous dispatch, and never sending the dispatch again itself;
- telling an ambiguous dispatch (timeout, 5xx, dropped connection: the run may exist)
  from a refusal (4xx: it was not created; a rate-limit 403/429 is a refusal too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict

from integrations.connections import ConnectionBase, HttpConnection
from integrations.logs.base import HttpCall
from routing.basics.field import PositiveDuration

if TYPE_CHECKING:
    from integrations.outbound import Outbound

MIN_POLL_INTERVAL = timedelta(seconds=1)
MAX_REMOTE_ID = 200  # every backend's remote_id fits a column of this size


def _poll_interval(value: timedelta) -> timedelta:
    if value < MIN_POLL_INTERVAL:
        raise ValueError("must be at least 1s")
    return value


PollInterval = Annotated[PositiveDuration, AfterValidator(_poll_interval)]


class CiConnection(HttpConnection):
    """A CI server: how often `wait:` polls it (backing off when the CI says so)."""

    poll_interval: PollInterval = timedelta(seconds=10)


class CiArgs(BaseModel):
    """Base of a CI step's `with`: every CI step names its connection."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    connection: str


@dataclass(frozen=True, slots=True)
class RemoteRun:
    """A run on the CI. `remote_id` is all `poll`/`cancel` need besides the connection
    (GitHub "owner/repo/123", GitLab "456", Jenkins "/job/a/job/b/42" or a queued form);
    store it as is: it is at most MAX_REMOTE_ID characters. `url` is the link for people."""

    remote_id: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Dispatched:
    # run None + ambiguous: timeout/5xx/connection drop, the run may exist -> find()
    # run None + not ambiguous: refused (4xx) -> the step fails with detail
    run: RemoteRun | None
    ambiguous: bool
    detail: str  # one line for the timeline; never a credential
    # A refusal the CI asked to retry later (rate limit): nothing was created.
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Polled:
    status: str  # the CI's own word: queued, in_progress, running, completed, ...
    final: bool
    conclusion: str | None  # when final: success, failure, cancelled, ... (lower case)
    url: str | None = None
    retry_after: timedelta | None = None  # rate limits: poll again no sooner than this
    # The run's better identity, when this poll learned it (Jenkins: the queue item became
    # build 42): store it in place of the old one. None: keep the stored run.
    run: RemoteRun | None = None


class CiError(RuntimeError):
    """The CI could not be read just now (transport failure, 5xx, unexpected answer):
    `poll`/`find` raise it; the engine keeps waiting and tries again at the next poll.
    The message never carries a credential."""

    def __init__(
        self, message: str, retry_after: timedelta | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the CI asked us to wait this long (rate limit)
        self.status = status  # the HTTP status it answered, when it answered


class CiBackend(Protocol):
    name: ClassVar[str]  # "github": the action is ci.github, the connection type github
    connection_model: ClassVar[type[ConnectionBase]]
    args_model: ClassVar[type[BaseModel]]

    def plan(
        self,
        args: Any,
        connection: Any,
        correlation_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpCall:
        """The exact dispatch request (pure). `context` is the run's envelope for the
        webhook backend ({run_id, playbook, step, incident: {id, url, labels}, params});
        the others ignore it."""
        ...

    def describe(self, call: HttpCall, connection: Any) -> Mapping[str, Any]:
        """The request as dry-runs and approvals show it: method, URL, headers, body;
        credentials as ***."""
        ...

    async def dispatch(self, call: HttpCall, connection: Any, outbound: Outbound) -> Dispatched:
        """Send the planned request once (never retried here)."""
        ...

    async def find(
        self,
        args: Any,
        connection: Any,
        outbound: Outbound,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        """The run a dispatch with `correlation_id` started at or after `since`, if the
        CI shows one yet (None: not (yet) found; CiError: could not look)."""
        ...

    async def poll(self, run: RemoteRun, connection: Any, outbound: Outbound) -> Polled:
        """The run's status now (CiError: could not read it this time)."""
        ...

    async def cancel(self, run: RemoteRun, connection: Any, outbound: Outbound) -> str:
        """Ask the CI to cancel the run; what happened, for the timeline (never raises)."""
        ...


__all__ = [
    "MAX_REMOTE_ID",
    "MIN_POLL_INTERVAL",
    "CiArgs",
    "CiBackend",
    "CiConnection",
    "CiError",
    "Dispatched",
    "HttpCall",
    "PollInterval",
    "Polled",
    "RemoteRun",
]
