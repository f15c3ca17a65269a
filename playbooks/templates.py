"""Playbook templates: Jinja in an immutable sandbox with strict undefined, rendered once.

A step's `with` values and its `if:` are templates over `incident`, `params`, `steps` and
`run`. Values from alerts, logs and outputs are data: each string of the playbook file
is rendered exactly once and the result is never rendered again, so a label holding
`{{ ... }}` stays text (actions escape values for their own target). Output is text,
never HTML-escaped, capped per value; the sandbox refuses private attributes, mutation
and str.format tricks.

A dry-run renders against the real incident, but earlier outputs do not exist yet:
KNOWN_WHEN_RUN stands for them. Any attribute or item of it is itself, it renders as
"<known when run>", and deciding anything on it (truth, comparison, arithmetic, length)
raises KnownWhenRun, so a dry-run can say "known when run" instead of guessing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Final, Literal, NoReturn

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RENDERED_CHARS: Final = 64 * 1024  # one rendered value (a query, a chat message)
MAX_RANGE: Final = 1000  # range() in a template: enough to format, not to spin
CONTEXT_NAMES: Final = frozenset({"incident", "params", "steps", "run"})
KNOWN_WHEN_RUN_TEXT: Final = "known when run"


class TemplateError(ValueError):
    """A template cannot be rendered: an undefined name, a sandbox refusal, a syntax
    error, output too large. The message names the template (and its path if known)."""


class KnownWhenRun(Exception):
    """A dry-run's template decided something on an output of an earlier step."""


class _KnownWhenRun:
    """The stand-in for what only a run knows (steps.*, run.summary) in a dry-run."""

    __slots__ = ()

    def __getattr__(self, name: str) -> _KnownWhenRun:
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> _KnownWhenRun:
        return self

    def __call__(self, *args: object, **kwargs: object) -> _KnownWhenRun:
        return self

    def __str__(self) -> str:
        return f"<{KNOWN_WHEN_RUN_TEXT}>"

    __repr__ = __str__

    def _unknown(self, *args: object) -> NoReturn:
        raise KnownWhenRun(KNOWN_WHEN_RUN_TEXT)

    __bool__ = __len__ = __iter__ = __contains__ = __int__ = __float__ = _unknown
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _unknown
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __neg__ = _unknown
    __hash__ = object.__hash__


KNOWN_WHEN_RUN: Final = _KnownWhenRun()


def _repeat_cap(left: Any, right: Any) -> Any:
    """`'x' * n` and `[..] * n` within the output cap (a huge one would be built first)."""
    for seq, count in ((left, right), (right, left)):
        sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
        if sized and len(seq) * max(count, 0) > MAX_RENDERED_CHARS:
            raise SecurityError(f"the result would exceed {MAX_RENDERED_CHARS} characters")
    return operator.mul(left, right)


def _power_cap(left: Any, right: Any) -> Any:
    if isinstance(right, int) and abs(right) > 64:
        raise SecurityError("exponent larger than 64")
    return operator.pow(left, right)


def _range(*args: int) -> range:
    bounded = range(*args)
    if len(bounded) > MAX_RANGE:
        raise SecurityError(f"range() of more than {MAX_RANGE} items")
    return bounded


class _PlaybookEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        # lipsum, cycler and joiner are no use here; range is capped.
        self.globals = {"range": _range, "dict": dict}
        self.filters.pop("center", None)  # width unbounded: "x"|center(10**9)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            return _repeat_cap(left, right)
        if operator == "**":
            return _power_cap(left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # In data a key wins over a method: `incident.labels.items` is the label "items".
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_ENV: Final = _PlaybookEnvironment()


def _quote(source: str) -> str:
    shown = source if len(source) <= 200 else source[:200] + "..."
    return repr(shown)


def _where(path: str, source: str) -> str:
    return f"{path}: template {_quote(source)}" if path else f"template {_quote(source)}"


def _describe(exc: BaseException, source: str) -> str:
    if isinstance(exc, TemplateSyntaxError):
        # The file's line is added by the loader; a multi-line template names its own.
        inner = f" (template line {exc.lineno})" if "\n" in source.strip() else ""
        return f"syntax error: {exc.message}{inner}"
    if isinstance(exc, SecurityError):
        return f"refused by the sandbox: {exc}"
    if isinstance(exc, UndefinedError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


@lru_cache(maxsize=1024)
def _compiled_expression(expression: str) -> Callable[..., Any]:
    return _ENV.compile_expression(expression, undefined_to_none=False)


def _render_text(source: str, context: Mapping[str, Any], path: str) -> str:
    if not _is_template(source):
        return source
    try:
        chunks: list[str] = []
        size = 0
        # Streamed so a loop that prints too much stops at the cap, not after it.
        for chunk in _compiled(source).generate(**context):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise SecurityError(f"the output exceeds {MAX_RENDERED_CHARS} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except KnownWhenRun:
        raise
    except (JinjaError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateError(f"{_where(path, source)}: {_describe(exc, source)}") from None


def render(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """`value` with every string rendered once (dict keys are never templates); numbers,
    booleans and None are kept. In a dry-run, a string that needs an earlier output
    becomes "<known when run>". Raises TemplateError."""
    if isinstance(value, str):
        try:
            return _render_text(value, context, path)
        except KnownWhenRun:
            return str(KNOWN_WHEN_RUN)
    if isinstance(value, Mapping):
        return {key: render(item, context, _join(path, str(key))) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def evaluate_if(expression: str, context: Mapping[str, Any], path: str = "") -> bool:
    """The truth of an `if:` expression. Raises TemplateError, or KnownWhenRun when the
    answer depends on an output only a run has (dry-runs)."""
    try:
        function = _compiled_expression(expression)
        return bool(function(**context))
    except KnownWhenRun:
        raise
    except (JinjaError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateError(f"{_where(path, expression)}: {_describe(exc, expression)}") from None


def preview_if(
    expression: str, context: Mapping[str, Any], path: str = ""
) -> bool | Literal["known when run"]:
    """evaluate_if for a dry-run: "known when run" when it depends on an earlier output."""
    try:
        return evaluate_if(expression, context, path)
    except KnownWhenRun:
        return KNOWN_WHEN_RUN_TEXT


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def templated_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string inside `value` that holds a template."""
    if isinstance(value, str):
        if _is_template(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from templated_strings(item, _join(path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from templated_strings(item, f"{path}[{index}]")


def _parse_expression(expression: str) -> nodes.Node:
    parser = Parser(_ENV, expression, state="variable")
    node = parser.parse_expression()
    if not parser.stream.eos:
        parser.fail("unexpected text after the expression", parser.stream.current.lineno)
    return node


def _syntax_problem(path: str, source: str, exc: TemplateSyntaxError) -> str:
    return f"{_where(path, source)}: {_describe(exc, source)}"


def template_problems(value: Any, path: str) -> list[str]:
    """Syntax errors of every template in `value`, each as "path: template '...': ...";
    rendering later can still fail on data (an undefined label)."""
    problems = []
    for where, source in templated_strings(value, path):
        try:
            _compiled(source)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(where, source, exc))
    return problems


def expression_problems(expression: str, path: str) -> list[str]:
    """Syntax errors of an `if:` expression."""
    try:
        _parse_expression(expression)
    except TemplateSyntaxError as exc:
        return [_syntax_problem(path, expression, exc)]
    return []


def references(source: str, is_expression: bool = False) -> set[tuple[str, str]]:
    """What a valid template reads: (name, "") for every free name and (root, key) for
    every `root.key` or `root["key"]` of a context name (params.window, steps.loki), so
    the loader can refuse unknown params, unknown or later steps and unknown names."""
    tree = _parse_expression(source) if is_expression else _ENV.parse(source)
    found: set[tuple[str, str]] = set()
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in assigned:
            found.add((name.name, ""))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner = getattr(node, "node", None)
        if not isinstance(inner, nodes.Name) or inner.name not in CONTEXT_NAMES:
            continue
        if isinstance(node, nodes.Getattr):
            found.add((inner.name, node.attr))
        elif isinstance(node, nodes.Getitem):
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, str):
                found.add((inner.name, key))
    return found
