"""No value a template produces changes the structure of a CI request: the path keeps its
segments (each decoding back to the value it holds), no query or fragment appears that
was not planned, and the values travel only where they belong (body or parameters)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from integrations.ci import CI_BACKENDS
from integrations.connections import HttpConnection
from integrations.outbound import full_url

TEXT = st.text(max_size=40)
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
CID = "fb-1-step"


def planned(name: str, connection: dict[str, Any], args: dict[str, Any]) -> Any:
    backend = CI_BACKENDS[name]
    conn = backend.connection_model.model_validate(connection)
    assert isinstance(conn, HttpConnection)
    call = backend.plan(backend.args_model.model_validate(args), conn, CID)
    return call, urlsplit(full_url(conn, call))


@settings(max_examples=150, deadline=None)
@given(
    owner=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,20}", fullmatch=True),
    repo=st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
    workflow=st.from_regex(r"[A-Za-z0-9._-]{1,20}\.yml", fullmatch=True),
    ref=TEXT.filter(bool),
    inputs=st.dictionaries(NAMES, TEXT, max_size=5),
)
def test_github(owner: str, repo: str, workflow: str, ref: str, inputs: dict[str, str]) -> None:
    assume(repo.strip(".") and "firebell_run_id" not in inputs)
    args = {
        "connection": "c",
        "repo": f"{owner}/{repo}",
        "workflow": workflow,
        "ref": ref,
        "inputs": inputs,
    }
    call, url = planned("github", {"type": "github", "token": "t"}, args)
    segments = url.path.split("/")
    assert segments[:2] == ["", "repos"] and segments[4:6] == ["actions", "workflows"]
    assert [unquote(s) for s in segments[2:4] + segments[6:7]] == [owner, repo, workflow]
    assert segments[7:] == ["dispatches"] and not url.query and not url.fragment
    assert call.json == {
        "ref": ref,
        "inputs": {**inputs, "firebell_run_id": CID},
        "return_run_details": True,
    }


@settings(max_examples=150, deadline=None)
@given(
    project=st.from_regex(
        r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,10}/[A-Za-z0-9_.][A-Za-z0-9_.-]{0,10}", fullmatch=True
    ),
    ref=TEXT.filter(bool),
    variables=st.dictionaries(NAMES, TEXT, max_size=5),
)
def test_gitlab(project: str, ref: str, variables: dict[str, str]) -> None:
    assume(all(part.strip(".") for part in project.split("/")))
    assume("FIREBELL_RUN_ID" not in variables)
    connection = {
        "type": "gitlab",
        "url": "https://g.example/gl",
        "project": project,
        "trigger_token": "t",
        "api_token": "a",
    }
    args = {"connection": "c", "ref": ref, "variables": variables}
    call, url = planned("gitlab", connection, args)
    segments = url.path.split("/")
    assert segments[:5] == ["", "gl", "api", "v4", "projects"]
    assert unquote(segments[5]) == project and segments[6:] == ["trigger", "pipeline"]
    assert not url.query and not url.fragment
    assert call.json["variables"] == {**variables, "FIREBELL_RUN_ID": CID}


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(TEXT.filter(bool), min_size=1, max_size=4),
    parameters=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True), TEXT, max_size=5
    ),
)
def test_jenkins(names: list[str], parameters: dict[str, str]) -> None:
    assume("FIREBELL_RUN_ID" not in parameters)
    args = {"connection": "c", "job": "/".join(names), "parameters": parameters}
    try:
        call, url = planned(
            "jenkins",
            {"type": "jenkins", "url": "https://j.example", "user": "u", "api_token": "t"},
            args,
        )
    except ValidationError:
        # Refused: a name that holds "/" splits into more names, which are then checked;
        # empty, dot-only and control-character names are refused outright.
        assume(False)
        return
    segments = url.path.split("/")[1:]
    assert segments[-1] == "buildWithParameters" and not url.fragment
    jobs = segments[:-1]
    assert jobs[0::2] == ["job"] * (len(jobs) // 2) and len(jobs) % 2 == 0
    assert [unquote(s) for s in jobs[1::2]] == "/".join(names).strip("/").split("/")
    expected = [*parameters.items(), ("FIREBELL_RUN_ID", CID)]
    assert parse_qsl(url.query, keep_blank_values=True) == expected
    assert call.json is None


@settings(max_examples=100, deadline=None)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | TEXT,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=10,
    )
)
def test_webhook(body: Any) -> None:
    connection = {"type": "webhook", "url": "https://d.example/hook", "secret": "s"}
    call, url = planned("webhook", connection, {"connection": "c", "body": body})
    assert url.path == "/hook" and not url.query and not url.fragment
    assert call.json == {"body": body}


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("github", {"repo": "a/b", "workflow": "w.yml", "ref": "\ud800"}),
        ("gitlab", {"ref": "main", "variables": {"A": "\udfff"}}),
        ("jenkins", {"job": "a/\ud800"}),
        ("webhook", {"body": {"x": "\ud800"}}),
        ("webhook", {"body": float("nan")}),
    ],
)
def test_text_that_cannot_be_sent_is_refused_at_validation(name: str, args: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CI_BACKENDS[name].args_model.model_validate({"connection": "c", **args})
