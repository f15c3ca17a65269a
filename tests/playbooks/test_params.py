"""Playbook params: typed values given as text, checked against their spec; specs checked
at load."""

# Expected messages are read whole, not wrapped.
# ruff: noqa: E501

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbooks.model import ParamSpec
from playbooks.params import MAX_PARAM_CHARS, ParamError, resolve_params, spec_problems
from routing.basics.duration import format_duration, parse_duration


def spec(**fields: Any) -> ParamSpec:
    return ParamSpec.model_validate(fields)


SPECS = {
    "window": spec(type="duration", default="30m", min="1m", max="6h"),
    "lines": spec(type="int", default=200, min=1, max=5000),
    "verbose": spec(type="bool", default=False),
    "env": spec(type="choice", choices=["prod", "staging"], default="prod"),
    "pod": spec(type="string", pattern=r"api-[a-z0-9]+", default="api-0"),
}


def test_defaults_and_given_values_come_back_typed() -> None:
    assert resolve_params(SPECS, {}) == {
        "window": "30m",
        "lines": 200,
        "verbose": False,
        "env": "prod",
        "pod": "api-0",
    }
    given_values = {
        "window": "90m",
        "lines": "50",
        "verbose": "yes",
        "env": "staging",
        "pod": "api-7f",
    }
    assert resolve_params(SPECS, given_values) == {
        "window": "1h30m",
        "lines": 50,
        "verbose": True,
        "env": "staging",
        "pod": "api-7f",
    }


@pytest.mark.parametrize(
    ("given_values", "name", "message"),
    [
        (
            {"windw": "1h"},
            "windw",
            "unknown param (this playbook's params: env, lines, pod, verbose, window)",
        ),
        ({"window": "7h"}, "window", "must be at most 6h"),
        ({"window": "30s"}, "window", "must be at least 1m"),
        ({"window": "soon"}, "window", 'invalid duration "soon" (expected e.g. 30m, 1h30m, 2d)'),
        ({"window": "0s"}, "window", "must be at least 1s"),
        ({"lines": "0"}, "lines", "must be at least 1"),
        ({"lines": "5001"}, "lines", "must be at most 5000"),
        ({"lines": "1e3"}, "lines", '"1e3" is not a whole number'),
        ({"verbose": "maybe"}, "verbose", '"maybe" is not a boolean (true or false)'),
        ({"env": "Prod"}, "env", '"Prod" is not one of: prod, staging'),
        ({"pod": "api-X; rm"}, "pod", '"api-X; rm" does not match the pattern api-[a-z0-9]+'),
        (
            {"pod": "api-" + "a" * MAX_PARAM_CHARS},
            "pod",
            f"longer than {MAX_PARAM_CHARS} characters",
        ),
    ],
)
def test_bad_values_name_the_param(given_values: dict[str, str], name: str, message: str) -> None:
    with pytest.raises(ParamError) as caught:
        resolve_params(SPECS, given_values)
    assert (caught.value.name, caught.value.message) == (name, message)
    assert str(caught.value) == f"params.{name}: {message}"


def test_a_param_without_default_is_required() -> None:
    specs = {"env": spec(type="choice", choices=["a", "b"], description="where")}
    with pytest.raises(ParamError, match=r"^params\.env: required \(choice: one of a, b\)$"):
        resolve_params(specs, {})
    specs = {"ticket": spec(type="string", description="the ticket id")}
    with pytest.raises(ParamError, match=r"required \(string: the ticket id\)"):
        resolve_params(specs, {})


def test_the_pattern_must_match_the_whole_value() -> None:
    specs = {"pod": spec(type="string", pattern="api-[0-9]+")}
    assert resolve_params(specs, {"pod": "api-12"}) == {"pod": "api-12"}
    for bad in ("xapi-12", "api-12x", "api-12\n"):
        with pytest.raises(ParamError):
            resolve_params(specs, {"pod": bad})


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4))
def test_any_input_resolves_or_is_refused_by_name(given_values: dict[str, str]) -> None:
    try:
        resolved = resolve_params(SPECS, given_values)
    except ParamError as exc:
        assert exc.name in SPECS or exc.name in given_values
        return
    assert set(resolved) == set(SPECS)


@given(st.integers(min_value=1, max_value=6 * 3600))
def test_durations_within_bounds_come_back_normalized(seconds: int) -> None:
    text = f"{seconds}s"
    try:
        resolved = resolve_params(SPECS, {"window": text})["window"]
    except ParamError as exc:
        assert seconds < 60 and exc.message == "must be at least 1m"
        return
    assert parse_duration(resolved) == timedelta(seconds=seconds)
    assert resolved == format_duration(timedelta(seconds=seconds))


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_ints_are_bounded(number: int) -> None:
    try:
        assert resolve_params(SPECS, {"lines": str(number)})["lines"] == number
        assert 1 <= number <= 5000
    except ParamError:
        assert not 1 <= number <= 5000


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"type": "duration", "default": "30m", "max": "6h"}, []),
        ({"type": "duration", "default": "7h", "max": "6h"}, ["params.p.default: must be at most 6h"]),
        ({"type": "duration", "max": "soon"}, ['params.p: min/max: invalid duration "soon" (expected e.g. 30m, 1h30m, 2d)']),
        ({"type": "int", "min": 5, "max": 1}, ["params.p.min: is larger than max"]),
        ({"type": "int", "default": "x"}, ['params.p.default: "x" is not a whole number']),
        ({"type": "bool", "default": True}, []),
        ({"type": "choice"}, ["params.p.choices: a choice param needs a list of choices"]),
        ({"type": "choice", "choices": ["a"], "default": "b"}, ['params.p.default: "b" is not one of: a']),
        ({"type": "string", "choices": ["a"]}, ["params.p.choices: only a choice param has choices"]),
        ({"type": "string", "pattern": "("}, ["params.p.pattern: invalid regular expression: missing ), unterminated subpattern at position 0"]),
        ({"type": "int", "pattern": "[0-9]"}, ["params.p.pattern: only a string param has a pattern"]),
        ({"type": "string", "max": 3}, ["params.p.max: only an int or duration param has a max"]),
        ({"type": "string", "pattern": "[a-z]+", "default": "A"}, ['params.p.default: "A" does not match the pattern [a-z]+']),
    ],
)  # fmt: skip
def test_spec_problems(fields: dict[str, Any], problems: list[str]) -> None:
    assert spec_problems("p", spec(**fields)) == problems
