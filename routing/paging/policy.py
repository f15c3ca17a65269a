"""The routing-policy sections of the config file (people, schedules, routes, muting).

The config loader (bot/config/) inherits PolicyConfig so all sections load from one
file. Field errors carry pydantic's location; cross-reference errors (a route naming an
unknown policy, a team with an unknown member) name their path in the message.
Treat a loaded config as immutable: lookups and the compiled route tree are cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from routing.muting.inhibition import InhibitRule
from routing.muting.silence import Silence
from routing.muting.time_interval import TimeInterval
from routing.muting.tree import (
    Route,
    RouteMatch,
    RouteNode,
    compile_tree,
    root_errors,
    route_alert,
    walk,
)
from routing.oncall.bundle_rule import BundleRule, PagingSettings
from routing.oncall.people import Team, User
from routing.oncall.schedule import Schedule
from routing.paging.bundling import contact_rules
from routing.paging.escalation import EscalationPolicy, split_target

_Named = TypeVar("_Named", User, Team, Schedule, EscalationPolicy, TimeInterval)


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[User] = []
    teams: list[Team] = []
    schedules: list[Schedule] = []
    escalation_policies: list[EscalationPolicy] = []
    # Absent: one root route with no escalation and no channels (incidents, no pages).
    route: Route = Field(default_factory=Route)
    time_intervals: list[TimeInterval] = []
    inhibit_rules: list[InhibitRule] = []
    silences: list[Silence] = []
    paging: PagingSettings = Field(default_factory=PagingSettings)

    @field_validator("route", mode="before")
    @classmethod
    def _default_route(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("route")
    @classmethod
    def _root(cls, value: Route) -> Route:
        errors = root_errors(value)
        if errors:
            raise ValueError("; ".join(errors))
        return value

    @model_validator(mode="after")
    def _references(self) -> PolicyConfig:
        errors = _reference_errors(self)
        if errors:
            raise ValueError("invalid references:\n" + "\n".join(f"  {error}" for error in errors))
        return self

    # Lookups by name (KeyError naming the kind when missing).
    @cached_property
    def users_by_name(self) -> dict[str, User]:
        return {user.name: user for user in self.users}

    @cached_property
    def teams_by_name(self) -> dict[str, Team]:
        return {team.name: team for team in self.teams}

    @cached_property
    def schedules_by_name(self) -> dict[str, Schedule]:
        return {schedule.name: schedule for schedule in self.schedules}

    @cached_property
    def escalation_policies_by_name(self) -> dict[str, EscalationPolicy]:
        return {policy.name: policy for policy in self.escalation_policies}

    @cached_property
    def time_intervals_by_name(self) -> dict[str, TimeInterval]:
        return {interval.name: interval for interval in self.time_intervals}

    @cached_property
    def webhook_secrets(self) -> dict[str, str]:
        """Signed webhook contacts' URL -> secret: the notifier signs with it at send
        time, so the secret is never in an outbox row (its target is "webhook:<url>")."""
        return {
            contact.url: contact.secret
            for user in self.users
            for contact in user.contacts
            if contact.type == "webhook" and contact.secret is not None
        }

    @cached_property
    def bundle_rules(self) -> dict[str, BundleRule]:
        """Contact address -> its pager-storm bundling rule (absent: every page alone)."""
        return contact_rules(self.users, self.paging.bundle)

    @cached_property
    def route_tree(self) -> RouteNode:
        return compile_tree(self.route)

    def user(self, name: str) -> User:
        return _get(self.users_by_name, "user", name)

    def team(self, name: str) -> Team:
        return _get(self.teams_by_name, "team", name)

    def schedule(self, name: str) -> Schedule:
        return _get(self.schedules_by_name, "schedule", name)

    def escalation_policy(self, name: str) -> EscalationPolicy:
        return _get(self.escalation_policies_by_name, "escalation policy", name)

    def time_interval(self, name: str) -> TimeInterval:
        return _get(self.time_intervals_by_name, "time interval", name)

    def user_by_slack_id(self, slack_id: str) -> User | None:
        return next((user for user in self.users if user.slack_id == slack_id), None)

    def user_by_discord_id(self, discord_id: str) -> User | None:
        return next((user for user in self.users if user.discord_id == discord_id), None)

    def route_alert(self, labels: Mapping[str, str], now: datetime) -> list[RouteMatch]:
        return route_alert(self.route_tree, labels, now, self.time_intervals_by_name)


def _get(table: Mapping[str, _Named], kind: str, name: str) -> _Named:
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none defined"
        raise KeyError(f"unknown {kind} {name!r} (known: {known})") from None


def _duplicates(section: str, items: Sequence[_Named]) -> list[str]:
    seen: set[str] = set()
    errors = []
    for index, item in enumerate(items):
        if item.name in seen:
            errors.append(f"{section}.{index}.name: duplicate name {item.name!r}")
        seen.add(item.name)
    return errors


def _unknown(path: str, kind: str, name: str, known: Mapping[str, object]) -> str:
    names = ", ".join(sorted(known)) or "none defined"
    return f"{path}: unknown {kind} {name!r} (known: {names})"


def _reference_errors(config: PolicyConfig) -> list[str]:
    errors: list[str] = []
    for section in ("users", "teams", "schedules", "escalation_policies", "time_intervals"):
        errors += _duplicates(section, getattr(config, section))
    users, teams = config.users_by_name, config.teams_by_name
    schedules, policies = config.schedules_by_name, config.escalation_policies_by_name
    intervals = config.time_intervals_by_name

    for t, team in enumerate(config.teams):
        errors += [
            _unknown(f"teams.{t}.members.{m}", "user", member, users)
            for m, member in enumerate(team.members)
            if member not in users
        ]

    paged: dict[str, str] = {}  # user name -> first path that can page them
    for s, schedule in enumerate(config.schedules):
        for l_, layer in enumerate(schedule.layers):
            for m, member in enumerate(layer.members):
                path = f"schedules.{s}.layers.{l_}.members.{m}"
                if member not in users:
                    errors.append(_unknown(path, "user", member, users))
                paged.setdefault(member, path)
        for o, override in enumerate(schedule.overrides):
            path = f"schedules.{s}.overrides.{o}.user"
            if override.user not in users:
                errors.append(_unknown(path, "user", override.user, users))
            paged.setdefault(override.user, path)

    tables: dict[str, Mapping[str, object]] = {"user": users, "team": teams, "schedule": schedules}
    for p, policy in enumerate(config.escalation_policies):
        for s, step in enumerate(policy.steps):
            for n, target in enumerate(step.notify):
                path = f"escalation_policies.{p}.steps.{s}.notify.{n}"
                kind, name = split_target(target)
                if name not in tables[kind]:
                    errors.append(_unknown(path, kind, name, tables[kind]))
                elif kind == "user":
                    paged.setdefault(name, path)
                elif kind == "team" and not teams[name].channels:
                    errors.append(f"{path}: team {name!r} has no channels to notify")

    # One webhook URL is one receiver with one key: two secrets would sign some pages
    # with a key it does not check.
    signed: dict[str, str] = {}
    for u, user in enumerate(config.users):
        for c, contact in enumerate(user.contacts):
            if contact.type != "webhook" or contact.secret is None:
                continue
            if signed.setdefault(contact.url, contact.secret) != contact.secret:
                errors.append(
                    f"users.{u}.contacts.{c}.secret: differs from another webhook contact's "
                    "secret for the same URL (one receiver checks one secret)"
                )

    # A page to someone with no contact would be silently lost: refuse it at load.
    for name, path in paged.items():
        if name in users and not users[name].contacts:
            errors.append(f"{path}: user {name!r} can be paged but has no contacts")

    for path, route in walk(config.route):
        receiver = route.receiver
        if receiver and receiver.escalation and receiver.escalation not in policies:
            errors.append(
                _unknown(
                    f"{path}.receiver.escalation",
                    "escalation policy",
                    receiver.escalation,
                    policies,
                )
            )
        for field in ("active_time_intervals", "mute_time_intervals"):
            for i, name in enumerate(getattr(route, field)):
                if name not in intervals:
                    errors.append(_unknown(f"{path}.{field}.{i}", "time interval", name, intervals))
    return errors
