"""ConfigError, and how a problem's place in the file is written: sources.nginx.threshold.window."""

from __future__ import annotations

import json
import re

Loc = tuple[str | int, ...]  # a path into the config data: ("teams", 0, "members")


class ConfigError(Exception):
    """The config is invalid: every problem found, each as (path in the file, message)."""

    def __init__(
        self,
        errors: list[tuple[str, str]],
        lines: list[int | None] | None = None,
        origin: str = "<config>",
    ) -> None:
        self.errors = list(errors)
        self.lines = list(lines) if lines is not None else [None] * len(self.errors)
        self.origin = origin
        super().__init__(self.errors)

    def error_lines(self) -> list[str]:
        """`path: message (line N)`, one per problem."""
        out = []
        for (path, message), line in zip(self.errors, self.lines, strict=True):
            text = f"{path}: {message}" if path else message
            out.append(text if line is None else f"{text} (line {line})")
        return out

    def __str__(self) -> str:
        return "\n".join(self.error_lines())


class ConfigUnreadable(ConfigError):
    """The config file cannot be read at all (missing, no permission, not UTF-8 text)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__([("", f"cannot read {path}: {reason}")], origin=path)
        self.path = path
        self.reason = reason


def render_path(loc: Loc) -> str:
    """("sources", "nginx", "services", "a.example") -> sources.nginx.services["a.example"]."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SEGMENT = re.compile(r'\.?([\w-]+)|\[(\d+)\]|\[("[^"]*")\]')


def parse_path(text: str) -> Loc:
    """ "teams.0.members.1" or "teams[0].members[1]" -> ("teams", 0, "members", 1)."""
    loc: list[str | int] = []
    for name, index, quoted in _SEGMENT.findall(text):
        if index or name.isdigit():
            loc.append(int(index or name))
        else:
            loc.append(json.loads(quoted) if quoted else name)
    return tuple(loc)
