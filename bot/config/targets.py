"""Delivery targets that apprise would parse but firebell delivers natively: checked at
load, so a json:// URL with an argument the native sender does not honour is refused
by check-config (naming its place), never sent differently than apprise would."""

from __future__ import annotations

from collections.abc import Sequence

from integrations.notifiers import check_target, kind_of
from routing.oncall.people import Team, User

NATIVE_KINDS = frozenset({"json"})


def native_target_problems(users: Sequence[User], teams: Sequence[Team]) -> list[str]:
    """`users[0].contacts[1]: ...` for each json:// / jsons:// contact or channel that
    the native sender refuses."""
    places = [
        (f"users[{u}].contacts[{c}]", contact.address)
        for u, user in enumerate(users)
        for c, contact in enumerate(user.contacts)
    ] + [
        (f"teams[{t}].channels[{c}]", channel)
        for t, team in enumerate(teams)
        for c, channel in enumerate(team.channels)
    ]
    problems = []
    for path, target in places:
        if kind_of(target) in NATIVE_KINDS:
            try:
                check_target(target)
            except ValueError as exc:
                problems.append(f"{path}: {exc}")
    return problems
