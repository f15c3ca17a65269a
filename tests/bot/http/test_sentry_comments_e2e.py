"""Sentry `comment` webhooks end to end against a real `firebell serve` process on a
loopback port, on SQLite and PostgreSQL: a signed comment on an issue lands on the
timeline of the incident holding that issue's alert, said by "sentry:<name>" (never a
firebell user), and shows in the API and `firebell incident show`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.http.test_e2e_webhooks import API, CONFIG, TOKENS
from tests.support.server_process import ServerProcess
from tests.support.webhook_payloads import sentry_headers, sentry_issue

pytestmark = pytest.mark.slow

ISSUE = "1170820242"
SECRET = TOKENS["SENTRY_CLIENT_SECRET"]


def sentry_comment(
    action: str, text: str, *, issue_id: int = int(ISSUE), actor: Any = None, comment_id: int = 1234
) -> bytes:
    """The comments resource as documented: issue_id and comment_id are integers."""
    return json.dumps(
        {
            "action": action,
            "data": {
                "comment": text,
                "project_slug": "backend",
                "comment_id": comment_id,
                "issue_id": issue_id,
                "timestamp": "2026-11-24T10:05:44.118160Z",
            },
            "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
            "actor": actor or {"type": "user", "id": 1, "name": "colleen"},
        },
        separators=(",", ":"),
    ).encode()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = CONFIG.format(database_url=database_url) + "users:\n  - {name: alice}\n"
    proc = ServerProcess(tmp_path, config, env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    with proc:
        yield proc


def post_comment(http: httpx.Client, body: bytes, secret: str = SECRET) -> httpx.Response:
    return http.post(
        "/webhooks/sentry", content=body, headers=sentry_headers(body, secret, "comment")
    )


def test_a_sentry_comment_goes_on_the_incident_timeline(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        created = sentry_issue("created", ISSUE)
        posted = http.post(
            "/webhooks/sentry", content=created, headers=sentry_headers(created, SECRET)
        )
        assert posted.status_code == 202, posted.text

        said = post_comment(http, sentry_comment("created", "rolling back 4.2.1"))
        assert said.status_code == 202, said.text
        assert said.json()["note"] == "recorded sentry comment.created"
        # A Sentry user named like a firebell user is still a Sentry user.
        alice = {"type": "user", "id": 7, "name": "alice"}
        edited = sentry_comment("updated", "rolled back", actor=alice, comment_id=1235)
        assert post_comment(http, edited).status_code == 202
        # Forged: refused, and nothing lands.
        forged = sentry_comment("created", "forged")
        assert post_comment(http, forged, "not-the-secret").status_code == 401
        # About an issue firebell never received: kept in the inbox only.
        stray = post_comment(http, sentry_comment("created", "other issue", issue_id=99))
        assert stray.status_code == 202

        incident = http.get("/api/v1/incidents/1", headers=API).json()
        comments = [t for t in incident["timeline"] if t["kind"] == "comment"]
        assert [(c["actor"], c["message"]) for c in comments] == [
            ("sentry:colleen", f"Sentry comment on issue {ISSUE} (backend): rolling back 4.2.1"),
            ("sentry:alice", f"Sentry comment edited on issue {ISSUE} (backend): rolled back"),
        ]
        assert comments[0]["data"]["comment_id"] == "1234"

    shown = server.cli("incident", "--as", "alice", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "sentry:colleen: Sentry comment on issue" in shown.stdout
    assert "rolling back 4.2.1" in shown.stdout
