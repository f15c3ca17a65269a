"""YAML text to plain data, remembering each key's line and flagging duplicate keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.config.errors import ConfigError, Loc


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config, at `loc` in the data."""

    loc: Loc
    message: str
    line: int | None = None  # None: looked up from the path


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)  # path -> line of its key or item
    problems: list[Problem] = field(default_factory=list)


def load_yaml(text: str, origin: str) -> YamlDocument:
    """Parse one YAML document; a syntax error is a ConfigError with its line and column."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # rejects control characters right away
        node = loader.get_single_node()
        doc = YamlDocument(None)
        if node is not None:
            _index(node, (), doc, set())
            doc.data = loader.construct_document(node)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([("", f"YAML syntax error{where}: {problem}")], origin=origin) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = f"character {exc.character:#06x} is not allowed"
        raise ConfigError(
            [("", f"YAML syntax error at line {line}, column {column}: {problem}")], origin=origin
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"YAML error: {exc}")], origin=origin) from None
    finally:
        if loader is not None:
            loader.dispose()


def _index(node: yaml.Node, loc: Loc, doc: YamlDocument, ancestors: set[int]) -> None:
    """Record the line of every key and list item, and flag duplicate keys."""
    if id(node) in ancestors:
        raise yaml.constructor.ConstructorError(
            None, None, "a recursive alias (an anchor used inside itself)", node.start_mark
        )
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                # PyYAML silently keeps the last one; a repeated key is almost always a mistake.
                message = f"duplicate key (first at line {seen[key]})"
                doc.problems.append(Problem((*loc, key), message, line))
            seen.setdefault(key, line)
            doc.lines.setdefault((*loc, key), line)
            _index(value_node, (*loc, key), doc, ancestors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines.setdefault((*loc, i), item.start_mark.line + 1)
            _index(item, (*loc, i), doc, ancestors)


def line_of(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    """The line of the longest prefix of `loc` that is in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
