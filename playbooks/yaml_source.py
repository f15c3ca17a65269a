"""Reading one playbook file: its bytes (hashed by runs), its YAML data, and the line of
every key and list item, so a problem at `steps[2].with.connection` can say its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
Loc = tuple[str | int, ...]
_SEGMENT = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated key (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f'duplicate key "{key_node.value}" (first at line {seen[key_node.value]})',
                    key_node.start_mark,
                )
            seen[key_node.value] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _index(node: yaml.Node | None, loc: Loc, lines: dict[Loc, int], seen: set[int]) -> None:
    # An alias is the node it names: indexed once (where it is defined), so a file of
    # nested aliases costs its own size, not the size it expands to.
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines.setdefault((*loc, key_node.value), key_node.start_mark.line + 1)
                _index(value_node, (*loc, key_node.value), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            lines.setdefault((*loc, position), item.start_mark.line + 1)
            _index(item, (*loc, position), lines, seen)


def read_playbook_file(path: Path) -> tuple[bytes, Any, dict[Loc, int]]:
    """The file's bytes, its data and its line index (ValueError says why not)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    try:
        # The reader checks every character up front (a NUL is a ReaderError, no mark).
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise ValueError(
            f"character #x{exc.character:04x} at offset {exc.position} is not allowed in YAML"
        ) from None
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        _index(node, (), lines, set())
        data = loader.construct_document(node) if node is not None else None
        return raw, data, lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"YAML syntax error{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def with_line(problem: str, lines: Mapping[Loc, int]) -> str:
    """ "steps[2].with.x: ..." -> "steps[2].with.x: ... (line 14)": the line of the
    longest prefix of its path that is in the file (a missing key: its parent's)."""
    path, sep, _ = problem.partition(": ")
    if not sep or " " in path:
        return problem
    loc: Loc = tuple(int(index) if index else name for index, name in _SEGMENT.findall(path))
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return f"{problem} (line {lines[loc[:end]]})"
    return problem
