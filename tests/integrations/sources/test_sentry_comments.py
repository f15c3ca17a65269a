"""Sentry `comment` deliveries parse into remarks for the issue alert's incident timeline,
said by "sentry:<actor name>"; bad shapes are refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.sources.sentry import sentry
from routing.intake.fingerprint import fingerprint_of
from tests.integrations.sources.sentry_support import compact, parse
from tests.support.sources import payload_error

# The documented example (Integration Platform, comments resource).
DOCUMENTED: dict[str, Any] = {
    "action": "created",
    "data": {
        "comment": "adding a comment",
        "project_slug": "sentry",
        "comment_id": 1234,
        "issue_id": 100,
        "timestamp": "2022-03-02T21:51:44.118160Z",
    },
    "installation": {"uuid": "eac5a0ae-60ec-418f-9318-46dc5e7e52ec"},
    "actor": {"type": "user", "id": 1, "name": "colleen"},
}


def with_(**changes: Any) -> dict[str, Any]:
    data = {**DOCUMENTED["data"], **changes.pop("data", {})}
    return {**DOCUMENTED, "data": data, **changes}


def test_the_documented_payload() -> None:
    result = parse("comment", DOCUMENTED)
    assert result.alerts == [] and result.note == "recorded sentry comment.created"
    [comment] = result.comments
    # The same identity as the alert (issue_id 100 as the issue webhooks write it).
    assert comment.fingerprint == fingerprint_of("sentry", {"issue_id": "100"})
    assert comment.author == "sentry:colleen"
    assert comment.message == "Sentry comment on issue 100 (sentry): adding a comment"
    assert dict(comment.data) == {
        "source": "sentry", "action": "created", "issue_id": "100", "comment_id": "1234",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "author", "message"),
    [
        (with_(action="updated"), "sentry:colleen", "Sentry comment edited on issue 100"),
        (with_(action="deleted", data={"comment": None}), "sentry:colleen", "comment deleted"),
        (with_(actor={"type": "user", "id": 9}), "sentry:user:9", "Sentry comment on"),
        (with_(actor=None), "sentry:unknown", "Sentry comment on"),
        (with_(actor={"name": "eve\nadmin   x"}), "sentry:eve admin x", "Sentry comment on"),
        (with_(actor={"name": "x" * 500}), "sentry:" + "x" * 120, "Sentry comment on"),
    ],
)
def test_actors_and_actions(payload: dict[str, Any], author: str, message: str) -> None:
    [comment] = parse("comment", payload).comments
    assert comment.author == author
    assert message in comment.message


def test_an_unknown_action_is_only_recorded() -> None:
    result = parse("comment", with_(action="pinned"))
    assert (result.comments, result.note) == ([], "recorded sentry comment.pinned")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (with_(data={"issue_id": None}), "data.issue_id"),
        (with_(data={"issue_id": [1]}), "data.issue_id"),
        (with_(data={"comment": ""}), "data.comment"),
        (with_(data={"comment": {"text": "x"}}), "data.comment"),
        (with_(actor="colleen"), "actor"),
        (with_(actor={"name": 5}), "actor.name"),
    ],
)
def test_bad_shapes_name_the_field(payload: dict[str, Any], field: str) -> None:
    error = payload_error(sentry, compact(payload), {"sentry-hook-resource": "comment"})
    assert (error.field, error.status_code) == (field, 422)
