"""`api_tokens`: who each bearer token stands for, and the Principal the API acts as.

    api_tokens:
      - {token: "${ALICE_TOKEN}", user: alice}        # a person: alice's role (users:)
      - {token: "${AM_TOKEN}", name: alertmanager}    # a machine token, named
      - "${SCRIPT_TOKEN}"                             # a machine token, named token-3

A person's writes are recorded under their name; a machine token's as `token:<name>`.
Machine tokens post webhooks and read, and write with their `role` (default responder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Discriminator, Tag, model_validator

from bot.config.fields import Secret, Section
from routing.oncall.people import Name, Role, User

MACHINE_PREFIX = "token:"


class ApiToken(Section):
    token: Secret
    user: Name | None = None  # a person, defined under users: (their role is set there)
    name: Name | None = None  # a machine token's name (default token-N, N its place in the list)
    role: Role | None = None  # a machine token's role (default responder)

    @model_validator(mode="after")
    def _person_or_machine(self) -> ApiToken:
        if self.user is not None and self.name is not None:
            raise ValueError("give `user` (a person's token) or `name` (a machine's), not both")
        if self.user is not None and self.role is not None:
            raise ValueError(
                f"a person's role is set on their entry under users: (users: - name: "
                f"{self.user}, role: {self.role}), not on the token"
            )
        return self


def _token_kind(value: Any) -> str:
    return "entry" if isinstance(value, Mapping | ApiToken) else "plain"


# A plain string (a machine token, as before) or an entry naming a user or a machine.
TokenEntry = Annotated[
    Annotated[Secret, Tag("plain")] | Annotated[ApiToken, Tag("entry")],
    Discriminator(_token_kind),
]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: the name its writes record, its role, the user if a person."""

    name: str
    role: Role
    user: str | None = None


# No tokens configured (loopback only): the API is open, and its writes say "api".
OPEN_ACCESS = Principal("api", "admin")


def machine_name(entry: str | ApiToken, index: int) -> str:
    """A machine token's stable, non-secret name: its `name`, else token-<place in list>."""
    named = entry.name if isinstance(entry, ApiToken) else None
    return named or f"token-{index + 1}"


def token_principals(
    entries: Sequence[str | ApiToken], users: Mapping[str, User]
) -> list[tuple[str, Principal]]:
    """(token, who it stands for) for every entry; unknown users are refused earlier
    (check_token_entries), so a missing one here reads only."""
    out: list[tuple[str, Principal]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, ApiToken) and entry.user is not None:
            user = users.get(entry.user)
            out.append(
                (entry.token, Principal(entry.user, user.role if user else "viewer", entry.user))
            )
            continue
        token = entry.token if isinstance(entry, ApiToken) else entry
        role = (entry.role if isinstance(entry, ApiToken) else None) or "responder"
        out.append((token, Principal(MACHINE_PREFIX + machine_name(entry, index), role)))
    return out


def check_token_entries(entries: Sequence[str | ApiToken], users: Mapping[str, User]) -> list[str]:
    """`path: problem` lines: unknown users, a name given twice, one token listed twice
    (its identity would depend on the order)."""
    problems: list[str] = []
    seen_tokens: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        path = f"api_tokens[{index}]"
        token = entry.token if isinstance(entry, ApiToken) else entry
        if token in seen_tokens:
            # Never echo the token: name the entry it repeats.
            problems.append(f"{path}: the same token as api_tokens[{seen_tokens[token]}]")
        seen_tokens.setdefault(token, index)
        if isinstance(entry, ApiToken) and entry.user is not None:
            if entry.user not in users:
                known = ", ".join(sorted(users)) or "none defined"
                problems.append(f"{path}.user: unknown user {entry.user!r} (known: {known})")
            continue
        name = machine_name(entry, index)
        if name in seen_names:
            problems.append(f"{path}: machine token name {name!r} is used twice")
        seen_names.setdefault(name, index)
    return problems


def intake_tokens(entries: Sequence[str | ApiToken], users: Mapping[str, User]) -> list[str]:
    """The api_tokens a webhook accepts: every machine token, and people who may write
    (a viewer's token reads the API; it does not open incidents)."""
    return [
        token
        for token, principal in token_principals(entries, users)
        if principal.user is None or principal.role != "viewer"
    ]
