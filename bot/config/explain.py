"""pydantic validation errors, rewritten as (path in the file, message a person can act on)."""

from __future__ import annotations

import difflib
import json
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from bot.config.errors import Loc, parse_path
from bot.config.secrets import field_holds_secrets
from bot.config.settings import Settings
from integrations.connections import CONNECTION_TYPES


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _type_tag(model: Any) -> str | None:
    """The `type:` literal of a member of a tagged union (a connection model)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    found = model.model_fields.get("type")
    literals = get_args(found.annotation) if found is not None else ()
    return literals[0] if len(literals) == 1 and isinstance(literals[0], str) else None


def _walk_loc(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Loc, Any]:
    """Drop pydantic's union-member tags from `loc`; also return the type holding the last part."""
    clean: list[str | int] = []
    current: Any = root
    parent: Any = None
    for part in loc:
        current = _unwrap(current)
        if get_origin(current) in (Union, types.UnionType):
            members = [a for a in get_args(current) if a is not type(None)]
            if len(members) > 1:
                # This part names the union member that failed (not in the file): a
                # tagged member (a connection's `type:`) is known by it.
                current = next((m for m in members if _type_tag(m) == part), None)
                continue
            current = _unwrap(members[0]) if members else None
        parent = current
        origin = get_origin(current) or current
        if isinstance(current, type) and issubclass(current, BaseModel):
            found = current.model_fields.get(str(part))
            found = found or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            current = found.annotation if found else None
        elif origin in (list, tuple, set, frozenset):
            args = get_args(current)
            current = args[0] if args else None
        elif origin is dict:
            args = get_args(current)
            # pydantic writes "[key]" when a mapping's key (not its value) is invalid.
            current = args[int(part != "[key]")] if args else None
        else:
            current = None
        clean.append(part)
    return tuple(clean), parent


_TYPE_MESSAGES = {
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {json.dumps(shown)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_key(key: Any, holder: Any) -> str:
    if not (isinstance(holder, type) and issubclass(holder, BaseModel)):
        return "unknown key"
    known = [info.alias or name for name, info in holder.model_fields.items()]
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f'unknown key (did you mean "{close[0]}"?)'
    return f"unknown key (expected one of: {', '.join(known)})"


_PREFIXED = re.compile(r'([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\]|\["[^"]*"\])*): (.+)')


def split_cross_checks(message: str) -> list[tuple[Loc, str]]:
    """A whole-config check reports many `path: problem` lines in one ValueError: split them."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    out: list[tuple[Loc, str]] = []
    for line in lines:
        if line.endswith(":") and len(lines) > 1:
            continue  # a heading such as "invalid references:"
        match = _PREFIXED.fullmatch(line)
        if match and match.group(1).split(".")[0].split("[")[0] in Settings.model_fields:
            out.append((parse_path(match.group(1)), match.group(2)))
        else:
            out.append(((), line))
    return out


def _members(annotation: Any) -> list[Any]:
    """`A | B | None` -> [A, B]; anything else -> [it] (Annotated unwrapped)."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [_unwrap(a) for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _has_secrets(annotation: Any, seen: set[type]) -> bool:
    """Whether a value of this type can hold a secret anywhere inside it."""
    for member in _members(annotation):
        if get_origin(member) in (list, tuple, set, frozenset, dict):
            if any(_has_secrets(arg, seen) for arg in get_args(member)):
                return True
        elif isinstance(member, type) and issubclass(member, BaseModel) and member not in seen:
            seen.add(member)
            for info in member.model_fields.values():
                if field_holds_secrets(info) or _has_secrets(info.annotation, seen):
                    return True
    return False


def _holds_secrets(loc: Loc) -> bool:
    """Whether the config place `loc` is, or is inside, a place that can hold a secret
    (a Secret, a credential URL, or a section with one such as basic_auth)."""
    annotation: Any = Settings
    for part in loc:
        below: Any = None
        for member in _members(annotation):
            origin = get_origin(member)
            if origin in (list, tuple, set, frozenset) and get_args(member):
                below = get_args(member)[0]
            elif origin is dict and get_args(member):
                below = get_args(member)[1]
            elif isinstance(member, type) and issubclass(member, BaseModel):
                info = member.model_fields.get(str(part))
                if info is not None and field_holds_secrets(info):
                    return True
                below = info.annotation if info is not None else None
            if below is not None:
                break
        if below is None:
            return False
        annotation = below
    return _has_secrets(annotation, set())


def describe_error(error: ErrorDetails) -> list[tuple[Loc, str]]:
    loc, holder = _walk_loc(Settings, tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return [(loc, _unknown_key(loc[-1] if loc else "", holder))]
    if kind == "missing":
        return [(loc, "required")]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # A connection's `type:` picks its model (bot.config.connections).
        expected = ", ".join(CONNECTION_TYPES)
        if kind == "union_tag_not_found":
            return [((*loc, "type"), f"required (one of: {expected})")]
        tag = error.get("ctx", {}).get("tag", "")
        return [((*loc, "type"), f'unknown type "{tag}" (expected one of: {expected})')]
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
        return split_cross_checks(message) if not loc else [(loc, message)]
    if kind in _TYPE_MESSAGES:
        # The input is of the wrong type; text given where a list of secrets belongs
        # (`api_tokens: ${TOKEN}`) is still a secret, so it is described, not shown.
        value = error["input"]
        shown = "text" if isinstance(value, str) and _holds_secrets(loc) else describe_value(value)
        return [(loc, f"{_TYPE_MESSAGES[kind]}, got {shown}")]
    message = error["msg"]
    if message.startswith("Input should"):
        message = "must" + message[len("Input should") :]
    return [(loc, message)]
