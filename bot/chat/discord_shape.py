"""The shape of a Discord interaction, checked once at the edge: the handlers read
`data`, `options`, `member.user` and `message` as objects and lists, so a signed body
with another shape is a 400 naming the field, not an AttributeError (500) deep inside."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Option(_Shape):
    name: str
    type: int | None = None
    options: list[Option] | None = None


class Data(_Shape):
    name: str | None = None
    custom_id: str | None = None
    options: list[Option] | None = None


class User(_Shape):
    id: str | int | None = None
    username: str | None = None
    global_name: str | None = None


class Member(_Shape):
    user: User | None = None


class Message(_Shape):
    id: str | int | None = None
    channel_id: str | int | None = None


class Interaction(_Shape):
    type: int
    application_id: str | int | None = None
    channel_id: str | int | None = None
    token: str | None = None
    data: Data | None = None
    member: Member | None = None
    user: User | None = None
    message: Message | None = None


def shape_error(payload: Any) -> tuple[str, str] | None:
    """(field, problem) when `payload` (None: not JSON) is not an interaction the
    handlers can read."""
    if not isinstance(payload, dict):
        return "body", "body: expected an interaction object"
    try:
        Interaction.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        return field, f"{field}: {first['msg']}"
    return None
