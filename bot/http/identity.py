"""Who calls the REST API: the bearer token's Principal (a person or a named machine) and
the role an operation needs. Writes record the principal's name, never a name from the body.

Reading needs `viewer`; acknowledging, resolving and silencing need `responder`. A wrong
token is 401; a right token with too small a role is 403 naming the role needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from pydantic import BeforeValidator
from pydantic.json_schema import SkipJsonSchema

from bot.config.identities import OPEN_ACCESS, Principal
from bot.http.auth import bearer_token, identify
from bot.runtime.state import Runtime
from routing.oncall.people import Role, role_allows


def authenticate(request: Request) -> Principal:
    rt: Runtime = request.app.state.runtime
    if rt.open_access:
        return OPEN_ACCESS
    headers = {k.lower(): v for k, v in request.headers.items()}
    principal = identify(bearer_token(headers), rt.settings.api_principals())
    if principal is None:
        raise HTTPException(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    return principal


def refused(principal: Principal, needed: Role, action: str) -> str:
    """Why `principal` may not do `action`: the role it needs and the role it has."""
    who = f"user {principal.name}" if principal.user else principal.name
    where = (
        f"set `role: {needed}` on {principal.user} under users:"
        if principal.user
        else f"set `role: {needed}` on this token's api_tokens entry"
    )
    return f"{action} needs the {needed} role; {who} is a {principal.role} ({where})"


def needs(role: Role, action: str) -> Callable[[Request], Principal]:
    """A dependency: the authenticated caller, if their role is at least `role`."""

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not role_allows(principal.role, role):
            raise HTTPException(403, refused(principal, role, action))
        return principal

    return dependency


# Reading anything under /api/v1.
Reader = Annotated[Principal, Depends(needs("viewer", "reading"))]
# Acknowledging, resolving, silencing and expiring silences.
Responder = Annotated[Principal, Depends(needs("responder", "changing incidents or silences"))]


def _refuse_named_actor(_value: Any) -> None:
    raise ValueError(
        "is not accepted: a write is recorded as the authenticated caller (the user or "
        "the name of the bearer token's api_tokens entry); remove this field"
    )


# A body field that used to name the actor (`actor`, `created_by`): refused with 422 when
# given, so a client never believes it chose the name; hidden from the OpenAPI schema.
RefusedActorField = Annotated[SkipJsonSchema[None], BeforeValidator(_refuse_named_actor)]
