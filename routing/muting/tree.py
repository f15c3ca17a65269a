"""The Alertmanager-style route tree: which receivers an alert's labels reach, at an instant.

Semantics follow Alertmanager's dispatch/route.go: depth-first, the first matching
child wins unless it has `continue: true`, and a node none of whose children match is
itself the match. Children inherit receiver, group_by and the group timers; time
intervals are per route (not inherited), as in Alertmanager. The first route an alert
matches decides its group_by (`group_by_for`, used by ingest to group it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from routing.basics.field import Duration
from routing.intake.grouping import GROUP_BY_ALL
from routing.muting.matcher import Matcher, MatcherList
from routing.muting.time_interval import TimeInterval
from routing.oncall.people import ChannelTarget

DEFAULT_GROUP_BY = ("service", "alertname")
DEFAULT_GROUP_WAIT = timedelta(0)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


class Receiver(BaseModel):
    """Where a route sends: an escalation policy (people) and/or chat channels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalation: str | None = None
    channels: list[ChannelTarget] = []


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: Receiver | None = None
    matchers: MatcherList = []
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    active_time_intervals: list[str] = []
    mute_time_intervals: list[str] = []
    routes: list[Route] = []

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str] | None) -> list[str] | None:
        if value and GROUP_BY_ALL in value and len(value) > 1:
            raise ValueError(
                f"{GROUP_BY_ALL!r} groups by every label and must be alone in group_by"
            )
        if value and len(set(value)) != len(value):
            raise ValueError("group_by lists a label twice")
        return value

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        # As in Alertmanager: a zero interval would post to the channels on every pass.
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        # Feeds keep whole seconds and the follow-up pass runs about once a second, so a
        # "10ms" would silently mean 1s: say so instead.
        if value is not None and (value < timedelta(seconds=1) or value.microseconds):
            raise ValueError("must be a whole number of seconds (at least 1s)")
        return value


def root_errors(route: Route) -> list[str]:
    """What Alertmanager forbids on the root: it must match everything, always."""
    errors = []
    if route.matchers:
        errors.append("the root route must not have matchers (it receives every alert)")
    if route.continue_:
        errors.append("the root route cannot have `continue`")
    if route.active_time_intervals or route.mute_time_intervals:
        errors.append("the root route cannot have time intervals")
    return errors


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """What a route passes down to its children unless they set their own."""

    receiver: Receiver
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


ROOT_DEFAULTS = RouteSettings(
    Receiver(),
    DEFAULT_GROUP_BY,
    DEFAULT_GROUP_WAIT,
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_REPEAT_INTERVAL,
)


@dataclass(frozen=True, slots=True)
class RouteNode:
    """A route with inherited settings resolved, built once at load for the hot path."""

    path: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    settings: RouteSettings
    active_time_intervals: tuple[str, ...]
    mute_time_intervals: tuple[str, ...]
    children: tuple[RouteNode, ...]


def compile_tree(
    route: Route, inherited: RouteSettings = ROOT_DEFAULTS, path: str = "root"
) -> RouteNode:
    """Resolve inheritance once; child paths are 0-based indices ("root/0/1")."""

    def own(value: timedelta | None, fallback: timedelta) -> timedelta:
        return value if value is not None else fallback

    settings = RouteSettings(
        receiver=route.receiver or inherited.receiver,
        group_by=tuple(route.group_by) if route.group_by is not None else inherited.group_by,
        group_wait=own(route.group_wait, inherited.group_wait),
        group_interval=own(route.group_interval, inherited.group_interval),
        repeat_interval=own(route.repeat_interval, inherited.repeat_interval),
    )
    return RouteNode(
        path=path,
        matchers=tuple(route.matchers),
        continue_=route.continue_,
        settings=settings,
        active_time_intervals=tuple(route.active_time_intervals),
        mute_time_intervals=tuple(route.mute_time_intervals),
        children=tuple(
            compile_tree(child, settings, f"{path}/{i}") for i, child in enumerate(route.routes)
        ),
    )


@dataclass(frozen=True, slots=True)
class RouteMatch:
    path: str
    receiver: Receiver
    group_by: tuple[str, ...]  # concrete label names ("..." expanded to the alert's labels)
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    muted_by_time: bool  # matched, but its time intervals say not to notify now
    time_reason: str | None = None  # which interval muted it, for `simulate` and the timeline

    @property
    def active(self) -> bool:
        return not self.muted_by_time


def group_by_for(tree: RouteNode, labels: Mapping[str, str]) -> tuple[str, ...]:
    """The group_by of the first route the labels match, as Alertmanager groups an alert
    by the first route it dispatches to (`('...',)`: every label, each alert its own group)."""
    matched = _matching_nodes(tree, labels)
    return (matched[0] if matched else tree).settings.group_by


def _matching_nodes(node: RouteNode, labels: Mapping[str, str]) -> list[RouteNode]:
    """Alertmanager's Route.Match."""
    if not all(matcher.matches(labels) for matcher in node.matchers):
        return []
    found: list[RouteNode] = []
    for child in node.children:
        matched = _matching_nodes(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [node]


def _time_mute(node: RouteNode, now: datetime, intervals: Mapping[str, TimeInterval]) -> str | None:
    for name in node.mute_time_intervals:
        if intervals[name].contains(now):
            return f"mute_time_intervals: {name}"
    if node.active_time_intervals and not any(
        intervals[name].contains(now) for name in node.active_time_intervals
    ):
        return "outside active_time_intervals: " + ", ".join(node.active_time_intervals)
    return None


def route_alert(
    tree: RouteNode | Route,
    labels: Mapping[str, str],
    now: datetime,
    intervals: Mapping[str, TimeInterval],
) -> list[RouteMatch]:
    """Every route the labels end at, in tree order, with whether time intervals mute it now.

    Pass the compiled tree (PolicyConfig.route_tree) on the hot path; a Route is compiled
    on each call. Interval names must exist in `intervals` (PolicyConfig checks at load).
    """
    root = tree if isinstance(tree, RouteNode) else compile_tree(tree)
    out = []
    for node in _matching_nodes(root, labels):
        settings = node.settings
        group_by = (
            tuple(sorted(labels)) if settings.group_by == (GROUP_BY_ALL,) else settings.group_by
        )
        reason = _time_mute(node, now, intervals)
        out.append(
            RouteMatch(
                path=node.path,
                receiver=settings.receiver,
                group_by=group_by,
                group_wait=settings.group_wait,
                group_interval=settings.group_interval,
                repeat_interval=settings.repeat_interval,
                muted_by_time=reason is not None,
                time_reason=reason,
            )
        )
    return out


def walk(route: Route, path: str = "route") -> list[tuple[str, Route]]:
    """Every route with its config path ("route.routes.0"), for validation messages."""
    found = [(path, route)]
    for index, child in enumerate(route.routes):
        found.extend(walk(child, f"{path}.routes.{index}"))
    return found
