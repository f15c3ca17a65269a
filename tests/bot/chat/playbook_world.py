"""For the playbook chat tests: one loopback server that speaks Slack's Web API (and the
response_url), Discord's REST API and Loki's query_range, each in its documented wire
format, checking what firebell sends; and a config with the api-5xx playbook."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.support.chat_harness import (
    DISCORD_TOKEN,
    NOW,
    SLACK_TOKEN,
    discord_section,
    settings_data,
    slack_section,
)
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start

SLACK_PARENT = "C0OPS:1700000000.000007"  # the incident message the outbox posted
DISCORD_PARENT = "2001:3001"
LOKI_LINE = 'level=error msg="upstream timed out" path=/v1/orders'

PLAYBOOK = """\
id: api-5xx
description: Recent API errors
match: ['service="api"']
params:
  window: {type: duration, default: 30m, max: 6h}
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}, contains: error,
           since: "{{ params.window }}", limit: 200}
  - id: report
    uses: chat.post
    always: true
    with: {text: "{{ run.summary }}"}
"""
DB_ONLY = """\
id: db-slow
description: Slow queries
match: ['service="db"']
steps:
  - id: report
    uses: chat.post
    with: {text: "db"}
"""


class FakeApis:
    def __init__(self) -> None:
        self.server: LoopbackServer = start(self.handle)
        self.base_url = self.server.base_url
        self._lock = threading.Lock()
        self._next = 100
        self.deleted: set[str] = set()  # Discord message ids someone deleted

    def _id(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path.startswith("/respond/"):
            body = request.json()
            assert isinstance(body.get("text"), str) and body["text"], body
            return Reply.text("ok")
        if request.path.startswith("/slack/api/"):
            return self._slack(request)
        if request.path.startswith("/discord/"):
            return self._discord(request)
        if request.path == "/loki/api/v1/query_range":
            assert request.method == "GET" and request.query["direction"] == ["backward"]
            assert request.query["query"] == ['{app="api"} |= "error"'], request.query
            stream = {
                "stream": {"app": "api"},
                "values": [[str(int(NOW.timestamp() * 1e9)), LOKI_LINE]],
            }
            data = {"resultType": "streams", "result": [stream], "stats": {}}
            return Reply.json({"status": "success", "data": data})
        return Reply.json({"error": "unexpected"}, status=404)

    def _slack(self, request: RecordedRequest) -> Reply:
        assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
        body = web_api_body(request)
        method = request.path.removeprefix("/slack/api/")
        if method == "chat.postMessage":
            assert body["channel"] and body["text"], body
            ts = f"1700000000.{self._id():06d}"
            return Reply.json({"ok": True, "channel": body["channel"], "ts": ts})
        if method == "chat.update":
            assert body["channel"] and body["ts"] and body["text"], body
            return Reply.json({"ok": True, "channel": body["channel"], "ts": body["ts"]})
        return Reply.json({"ok": False, "error": "unknown_method"})

    def _discord(self, request: RecordedRequest) -> Reply:
        assert request.headers["authorization"] == f"Bot {DISCORD_TOKEN}"
        body = request.json()
        assert body["allowed_mentions"] == {"parse": []}, body
        parts = request.path.split("/")  # /discord/channels/{id}/messages[/{id}]
        channel = parts[3]
        if request.method == "POST" and len(parts) == 5:
            return Reply.json({"id": str(4000 + self._id()), "channel_id": channel, **body})
        if request.method == "PATCH" and len(parts) == 6 and parts[5] in self.deleted:
            return Reply.json({"message": "Unknown Message", "code": 10008}, status=404)
        if request.method == "PATCH" and len(parts) == 6:
            return Reply.json({"id": parts[5], "channel_id": channel, **body})
        return Reply.json({"message": "Unknown", "code": 0}, status=404)

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        """Bodies sent to `path` ("/slack/api/chat.update", "/discord/channels/2001/messages")."""
        return [
            web_api_body(r) for r in self.server.requests if r.method == method and r.path == path
        ]

    def responses(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.server.requests if r.path.startswith("/respond/")]

    def loki_queries(self) -> int:
        return sum(1 for r in self.server.requests if r.path.startswith("/loki/"))


def web_api_body(request: RecordedRequest) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        data: dict[str, Any] = json.loads(request.body)
        return data
    return {k: v[0] for k, v in parse_qs(request.text()).items()}


def playbook_config(
    database_url: str, apis: FakeApis, folder: Path, discord_key: str | None = None
) -> dict[str, Any]:
    folder.mkdir(exist_ok=True)
    (folder / "api-5xx.yaml").write_text(PLAYBOOK)
    (folder / "db-slow.yaml").write_text(DB_ONLY)
    extra: dict[str, Any] = {
        "slack": slack_section(apis.base_url + "/slack/api/"),
        "playbooks": str(folder),
        "connections": {
            "loki": {"type": "loki", "url": apis.base_url, "allow_private": True},
        },
    }
    if discord_key is not None:
        extra["discord"] = discord_section(apis.base_url + "/discord", discord_key)
    return settings_data(database_url, **extra)
