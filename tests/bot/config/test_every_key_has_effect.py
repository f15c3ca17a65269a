"""No setting that does nothing: every key of the config model has a row in
tests/bot/config/key_effects.py naming tests whose assertions fail if the key were
ignored, and every test named there exists."""

from __future__ import annotations

import importlib
import types
import typing
from functools import cache

import pytest
from pydantic import BaseModel

from bot.config.settings import Settings
from tests.bot.config.key_effects import KEY_EFFECTS

# Keys that do nothing yet, each with the issue that gives it an effect. Strict xfail:
# once the key gets its tests, the row must leave this set.
PENDING: dict[str, str] = {}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models a field holds: itself, or inside Optional/list/dict/Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        if isinstance(arg, type | types.UnionType) or typing.get_origin(arg) is not None:
            found += _models_in(arg)
    return found


def _type_tag(model: type[BaseModel]) -> str | None:
    """The `type:` literal a member of a tagged union declares ("loki"), if any."""
    field = model.model_fields.get("type")
    literals = typing.get_args(field.annotation) if field is not None else ()
    return literals[0] if len(literals) == 1 and isinstance(literals[0], str) else None


def config_keys(model: type[BaseModel] = Settings) -> list[str]:
    """Every key as written in YAML ("users.role", "route.group_by"): list items are named
    by their list's key, and each model is walked once (route.routes holds routes)."""
    keys: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk(current: type[BaseModel], prefix: str) -> None:
        seen.add(current)
        for name, field in current.model_fields.items():
            key = prefix + (field.alias or name)
            keys.append(key)
            inners = _models_in(field.annotation)
            for inner in inners:
                if inner not in seen:
                    # Models picked by their `type:` (connections) each have their keys.
                    tag = _type_tag(inner) if len(inners) > 1 else None
                    walk(inner, f"{key}.{tag}." if tag else key + ".")

    walk(model, "")
    return keys


@cache
def _test_function(test_id: str) -> object:
    path, _, name = test_id.partition("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name.split("[", 1)[0], None)


def test_the_enumeration_walks_nested_models_and_lists() -> None:
    keys = config_keys()
    assert len(keys) == len(set(keys))
    for key in ("users.role", "route.group_by", "route.continue", "sources.nginx.threshold.window"):
        assert key in keys
    assert "connections.loki.url" in keys and "connections.journald.directory" in keys
    assert "route.routes" in keys and "route.routes.group_by" not in keys


def test_the_table_names_exactly_the_keys_of_the_config() -> None:
    keys = set(config_keys())
    assert sorted(keys - set(KEY_EFFECTS)) == [], "keys without a row (and a behaviour test)"
    assert sorted(set(KEY_EFFECTS) - keys) == [], "rows of keys the config no longer has"
    assert set(PENDING) <= keys


def _key_params() -> list[object]:
    return [
        pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=PENDING[key]))
        if key in PENDING
        else key
        for key in sorted(KEY_EFFECTS)
    ]


@pytest.mark.parametrize("key", _key_params())
def test_each_key_names_tests_that_exist(key: str) -> None:
    tests = KEY_EFFECTS[key]
    assert tests, f"{key}: no test shows what it changes"
    for test_id in tests:
        assert "::" in test_id and test_id.startswith("tests/"), test_id
        function = _test_function(test_id)
        assert callable(function) and test_id.split("::")[1].startswith("test_"), (
            f"{key}: {test_id} does not exist"
        )
