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
from bot.config.settings import Settings


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


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
                current = None  # this part names the union member that failed: not in the file
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


def describe_error(error: ErrorDetails) -> list[tuple[Loc, str]]:
    loc, holder = _walk_loc(Settings, tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return [(loc, _unknown_key(loc[-1] if loc else "", holder))]
    if kind == "missing":
        return [(loc, "required")]
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
        return split_cross_checks(message) if not loc else [(loc, message)]
    if kind in _TYPE_MESSAGES:
        # Type errors only: the input is of the wrong type, so it is not a secret string.
        return [(loc, f"{_TYPE_MESSAGES[kind]}, got {describe_value(error['input'])}")]
    message = error["msg"]
    if message.startswith("Input should"):
        message = "must" + message[len("Input should") :]
    return [(loc, message)]
