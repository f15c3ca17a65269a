"""${VAR} interpolation from the environment, in config text and in parsed config data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.config.errors import Loc

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ${VAR} from `env`; $${ is a literal ${. Returns (text, problems)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, closed = match.group(1), match.group(2)
        if not closed:
            problems.append('unterminated "${" (write ${NAME}, or $${ for a literal ${)')
        elif not _VAR_NAME.fullmatch(name):
            problems.append(
                f'invalid variable name "{name}" in ${{...}} (letters, digits and _; '
                "write $${ for a literal ${)"
            )
        elif name not in env:
            problems.append(f"environment variable {name} is not set")
        else:
            return env[name]  # inserted verbatim: never re-scanned
        return match.group(0)

    return _REFERENCE.sub(replace, text), problems


def interpolate_tree(
    value: Any, env: Mapping[str, str], loc: Loc, problems: list[tuple[Loc, str]]
) -> Any:
    if isinstance(value, str):
        text, found = interpolate(value, env)
        problems.extend((loc, message) for message in found)
        return text
    if isinstance(value, dict):
        return {k: interpolate_tree(v, env, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(v, env, (*loc, i), problems) for i, v in enumerate(value)]
    return value
