"""Any YAML document as a playbook file loads or is refused with PlaybookErrors naming the
file: never another exception (check-config and the worker's reload print them)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.logs.loki import LokiConnection
from playbooks.catalog import Catalog, PlaybookErrors, load_catalog

CONNECTIONS = {"loki": LokiConnection(type="loki", url="http://127.0.0.1:3100", allow_private=True)}
WORDS = st.sampled_from(
    ["id", "uses", "with", "if", "steps", "params", "match", "run", "type", "default", "max",
     "min", "pattern", "choices", "retry", "attempts", "backoff", "wait", "timeout", "until",
     "approval", "approvers", "required", "expires_in", "show", "always", "connection",
     "selector", "logs.loki", "chat.post", "ci.github", "loki", "api", "on_open", "manual",
     "duration", "int", "string", "bool", "choice", "user:alice", "team:x", "oncall:y", "1h",
     "{{ params.x }}", "{{ steps.a.output }}", "{% for %}", 'service="api"', "", "\x00", "\ud800"]
)  # fmt: skip
SCALARS = (
    WORDS
    | st.text(max_size=12)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.booleans()
    | st.none()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WORDS | SCALARS, inner, max_size=5),
    max_leaves=25,
)
STEP = st.fixed_dictionaries(
    {"id": WORDS | SCALARS, "uses": WORDS},
    optional={
        "with": st.dictionaries(WORDS, VALUES, max_size=4) | VALUES,
        "if": VALUES,
        "retry": VALUES,
        "wait": VALUES,
        "approval": st.dictionaries(WORDS, VALUES, max_size=4) | VALUES,
        "always": VALUES,
        "timeout": VALUES,
    },
)
PLAYBOOK = st.fixed_dictionaries(
    {},
    optional={
        "id": WORDS | SCALARS,
        "match": st.lists(WORDS | SCALARS, max_size=3) | VALUES,
        "run": WORDS,
        "params": st.dictionaries(WORDS | SCALARS, st.dictionaries(WORDS, VALUES, max_size=5))
        | VALUES,
        "steps": st.lists(STEP | VALUES, max_size=4) | VALUES,
    },
)


def check(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        (Path(folder) / "api.yaml").write_bytes(raw)
        try:
            found = load_catalog(Path(folder), CONNECTIONS, [], shown_as="playbooks")
        except PlaybookErrors as exc:
            assert exc.entries
            assert all(where == "playbooks/api.yaml" and message for where, message in exc.entries)
        else:
            assert isinstance(found, Catalog)


def dumped(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except (yaml.YAMLError, UnicodeEncodeError):
        return repr(data)  # not representable as YAML: still some document


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(PLAYBOOK | VALUES)
def test_any_yaml_structure_loads_or_names_the_file(data: Any) -> None:
    check(dumped(data))


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("{}[]:-,&*!|>'\"#%@` \n\tab01\x00")), max_size=80))
def test_any_yaml_ish_text_loads_or_names_the_file(text: str) -> None:
    check(text)


@FUZZ
@given(st.binary(max_size=80))
def test_any_bytes_load_or_name_the_file(raw: bytes) -> None:
    check(raw)
