"""Playbook templates: the sandbox, strict undefined, rendering once, the dry-run stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbooks.templates import (
    KNOWN_WHEN_RUN,
    MAX_RENDERED_CHARS,
    KnownWhenRun,
    TemplateError,
    evaluate_if,
    expression_problems,
    preview_if,
    references,
    render,
    template_problems,
)

HOSTILE = 'a"} or {job=~".+'


def context(**labels: str) -> dict[str, Any]:
    return {
        "incident": {"id": 7, "title": "API 5xx", "labels": {"service": "api", **labels}},
        "params": {"window": "30m", "limit": 200},
        "steps": {"loki": {"status": "ok", "summary": "3 lines", "count": 3}},
        "run": {"id": 1, "status": "running", "summary": "", "started_by": "ana"},
    }


def test_renders_every_string_of_a_structure_once_and_keeps_other_values() -> None:
    value = {
        "connection": "loki",
        "selector": {"app": "{{ incident.labels.service }}"},
        "since": "{{ params.window }}",
        "limit": 200,
        "flags": [True, None, "{{ steps.loki.count + 1 }}"],
    }
    assert render(value, context()) == {
        "connection": "loki",
        "selector": {"app": "api"},
        "since": "30m",
        "limit": 200,
        "flags": [True, None, "4"],
    }


def test_dict_keys_are_never_templates() -> None:
    assert render({"{{ params.window }}": "x"}, context()) == {"{{ params.window }}": "x"}


def test_a_label_that_looks_like_a_query_or_a_template_is_rendered_as_data() -> None:
    ctx = context(service=HOSTILE, note="{{ params.window }}{% for x in range(3) %}!{% endfor %}")
    assert render("{{ incident.labels.service }}", ctx) == HOSTILE
    # The value's own braces are output, never rendered again.
    assert render("{{ incident.labels.note }}", ctx) == ctx["incident"]["labels"]["note"]
    assert render(["{{ incident.labels.note }}"], ctx) == [ctx["incident"]["labels"]["note"]]


@given(st.text(max_size=80))
def test_any_label_value_comes_out_unchanged(value: str) -> None:
    assert render("{{ incident.labels.x }}", context(x=value)) == value


def test_output_is_not_html_escaped() -> None:
    assert render("{{ incident.labels.x }}", context(x="<b>&'\"")) == "<b>&'\""


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ incident.__class__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ ('{0.__class__}'|attr('format'))(incident) }}",
        "{{ '{0.__class__.__mro__}'.format(incident) }}",
        "{{ ('{a.__class__}'|attr('format_map'))({'a': incident}) }}",
        "{{ incident.labels.update({'service': 'x'}) }}",
        "{{ incident.labels.__setitem__ }}",
        "{{ range.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
    ],
)
def test_sandbox_escapes_are_refused(source: str) -> None:
    ctx = context()
    with pytest.raises(TemplateError) as caught:
        render(source, ctx, "steps[0].with.x")
    message = str(caught.value)
    assert message.startswith("steps[0].with.x: template ")
    assert "unsafe" in message or "refused" in message
    assert ctx["incident"]["labels"] == {"service": "api"}  # nothing changed


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 'x' * 10000000 }}", f"exceed {MAX_RENDERED_CHARS} characters"),
        ("{{ [1] * 10000000 }}", f"exceed {MAX_RENDERED_CHARS} characters"),
        ("{{ 9 ** 9999 }}", "exponent"),
        ("{% for i in range(5000) %}{% endfor %}", "range() of more than 1000"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}xx{% endfor %}{% endfor %}",
            f"exceeds {MAX_RENDERED_CHARS} characters",
        ),
        ("{{ lipsum(100000) }}", "'lipsum' is undefined"),
    ],
)
def test_size_limits(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        render(source, context())


def test_undefined_names_and_keys_are_errors_naming_the_template() -> None:
    with pytest.raises(TemplateError, match=r"^template '\{\{ nope \}\}': 'nope' is undefined"):
        render("{{ nope }}", context())
    with pytest.raises(TemplateError, match="has no attribute 'sentry_issue_id'"):
        render("{{ incident.labels.sentry_issue_id }}", context())
    with pytest.raises(TemplateError, match=r"steps\[1\]\.with\.since"):
        render({"since": "{{ params.nope }}"}, context(), "steps[1].with")


def test_is_defined_and_default_work_on_missing_labels() -> None:
    assert evaluate_if("incident.labels.sentry_issue_id is defined", context()) is False
    assert evaluate_if("incident.labels.sentry_issue_id is defined", context(sentry_issue_id="4"))
    assert render("{{ incident.labels.team | default('none') }}", context()) == "none"


def test_a_key_wins_over_a_method_of_the_same_name() -> None:
    assert render("{{ incident.labels.items }}", context(items="cart")) == "cart"
    assert render("{{ incident.labels['keys'] }}", context(keys="k")) == "k"


def test_if_expressions() -> None:
    ctx = context()
    assert evaluate_if("steps.loki.count > 2 and params.window == '30m'", ctx) is True
    assert evaluate_if("steps.loki.status != 'ok'", ctx) is False
    with pytest.raises(TemplateError, match=r"^steps\[2\]\.if: template 'steps\.nope\.count'"):
        evaluate_if("steps.nope.count", ctx, "steps[2].if")
    with pytest.raises(TemplateError, match="unsafe"):
        evaluate_if("incident.__class__", ctx)


def test_known_when_run_renders_as_a_marker_and_any_decision_on_it_is_unknown() -> None:
    ctx = {**context(), "steps": KNOWN_WHEN_RUN, "run": {"summary": KNOWN_WHEN_RUN}}
    assert render("{{ run.summary }}", ctx) == "<known when run>"
    assert render("{{ steps.loki.lines[0].text }}", ctx) == "<known when run>"
    # A value that needs the output itself is unknown as a whole.
    assert render("{{ steps.loki.count + 1 }}", ctx) == "<known when run>"
    assert render({"a": "x", "b": "{{ steps.loki.count | length }}"}, ctx) == {
        "a": "x",
        "b": "<known when run>",
    }
    for expression in ("steps.loki.count > 0", "steps.loki.status == 'ok'", "steps.loki"):
        assert preview_if(expression, ctx) == "known when run"
        with pytest.raises(KnownWhenRun):
            evaluate_if(expression, ctx)
    # What does not depend on an output is decided in a dry-run too.
    assert preview_if("incident.labels.sentry_issue_id is defined", ctx) is False
    assert preview_if("incident.labels.service == 'api'", ctx) is True


def test_known_when_run_opens_no_escape() -> None:
    ctx = {**context(), "steps": KNOWN_WHEN_RUN}
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ steps.__class__ }}", ctx)
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ steps.loki.__init__ }}", ctx)


def test_template_problems_are_syntax_errors_with_their_path() -> None:
    value = {"since": "{{ params.window", "ok": "{{ params.window }}", "list": ["x", "{% if %}"]}
    assert template_problems(value, "steps[2].with") == [
        "steps[2].with.since: template '{{ params.window': syntax error: unexpected end of "
        "template, expected 'end of print statement'.",
        "steps[2].with.list[1]: template '{% if %}': syntax error: Expected an expression, "
        "got 'end of statement block'",
    ]
    assert template_problems(value["ok"], "x") == []
    assert expression_problems("steps.loki.count >", "steps[1].if") == [
        "steps[1].if: template 'steps.loki.count >': syntax error: unexpected 'end of template'"
    ]
    assert expression_problems("a b", "if") == [
        "if: template 'a b': syntax error: unexpected text after the expression"
    ]
    multi_line = template_problems("{% if x %}\n{{ y\n{% endif %}", "t")[0]
    assert multi_line.endswith("(template line 3)")
    assert expression_problems("a }} {{ b", "if") != []


def test_references_name_what_a_template_reads() -> None:
    source = (
        "{{ params.window }} {{ params['limit'] }} {{ steps.loki.count }} "
        "{% for name in incident.labels %}{{ name }}{{ loop.index }}{% endfor %} {{ other }}"
    )
    assert references(source) == {
        ("params", ""),
        ("params", "window"),
        ("params", "limit"),
        ("steps", ""),
        ("steps", "loki"),
        ("incident", ""),
        ("incident", "labels"),
        ("loop", ""),
        ("other", ""),
    }
    assert references("params.x and steps.es.count > 0", is_expression=True) == {
        ("params", ""),
        ("params", "x"),
        ("steps", ""),
        ("steps", "es"),
    }
