"""The `connections:` section: every URL, path and credential a playbook step may use.

A connection is one of the types the log and CI backends declare
(integrations.connections CONNECTION_TYPES: loki, elasticsearch, sentry, files, journald,
github, gitlab, jenkins, webhook), chosen by its `type:`.
An HTTP connection to a loopback, private, link-local or metadata address is refused
here unless it says `allow_private: true` (and checked again at every request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field, StringConstraints

from integrations.connections import CONNECTION_TYPES, ConnectionBase, HttpConnection
from integrations.outbound import Resolver, check_address

if TYPE_CHECKING:
    Connection = ConnectionBase
else:
    # One model per `type:`; pydantic picks it by the tag and names the known ones.
    Connection = Annotated[
        Union[tuple(CONNECTION_TYPES.values())],  # noqa: UP007 - built at import
        Field(discriminator="type"),
    ]

ConnectionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


def connection_address_problems(
    connections: Mapping[str, ConnectionBase], resolver: Resolver | None = None
) -> list[str]:
    """`connections.<name>.url: ...` for every HTTP connection whose host resolves to an
    address it may not reach (a host that does not resolve now is checked at send)."""
    problems = []
    for name, connection in connections.items():
        if isinstance(connection, HttpConnection):
            problem = check_address(connection.url, connection.allow_private, resolver)
            if problem:
                problems.append(f"connections.{name}.url: {problem}")
    return problems
