"""Fake GitHub Actions, GitLab, Jenkins and a webhook receiver on 127.0.0.1, speaking
the documented endpoints (research/playbooks.md §3), for CI tests.

    with FakeGitHub() as github:
        connections = {"github": github.connection()}   # a config dict: allow_private, 1s polls
        ... firebell runs a ci.github step ...
        assert len(github.dispatches) == 1               # exactly once
        run = github.runs[0]                             # run.params, run.correlation, run.polls

Every run walks its fake's `sequence` one entry per status read (the last repeats):
FakeGitHub(sequence=[("queued", None), ("completed", "failure")]). Script the next
dispatch answers with `script_dispatch(...)`: a Reply (answered instead, nothing created:
422, a rate-limit 403), DROP (created, then the connection closes unanswered) or
Created(Reply) (created, then e.g. a 500); the next GETs with `script_read(Reply, ...)`.
Wrong credentials get the CI's 401/404; a request breaking the wire format makes the
fake raise (500), and close() re-raises it so the test fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.loopback_ci_base import DROP, Created, FakeCiServer, FakeRun
from tests.support.loopback_ci_git import FakeGitHub, FakeGitLab
from tests.support.loopback_http import RecordedRequest, Reply

WEBHOOK_MAX_AGE = timedelta(minutes=5)


class FakeJenkins(FakeCiServer):
    """buildWithParameters (201 + Location of a queue item), queue items that show their
    build after `queue_polls` reads and 404 after `forget_queue()`, builds, stop, cancelItem."""

    _TRIGGER = re.compile(r"((?:/job/[^/]+)+)/buildWithParameters")
    _BUILD = re.compile(r"((?:/job/[^/]+)+)/([0-9]+)/(api/json|stop)")
    _JOB = re.compile(r"((?:/job/[^/]+)+)/api/json")
    _ITEM = re.compile(r"/queue/item/([0-9]+)/api/json")

    def __init__(
        self,
        user: str = "firebell",
        api_token: str = "11fake-api-token",
        queue_polls: int = 1,
        sequence: list[str | None] | None = None,
    ) -> None:
        self.user, self.api_token, self.queue_polls = user, api_token, queue_polls
        self.sequence = sequence or [None, "SUCCESS"]  # result per build read (None: building)
        self.jobs: dict[int, str] = {}  # run id (queue item) -> job path
        self.builds: dict[int, int] = {}  # queue item -> build number, once started
        self.forgotten: set[int] = set()
        self.queue_reads: dict[int, int] = {}  # queue item -> reads of it (run.polls: builds)
        super().__init__()

    def connection(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "jenkins",
            "url": self.base_url,
            "user": self.user,
            "api_token": self.api_token,
            "allow_private": True,
            "poll_interval": "1s",
            **overrides,
        }

    def is_dispatch(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and bool(self._TRIGGER.fullmatch(request.path))

    def start(self, item: int) -> int:
        """Start the queued item's build now; its number."""
        with self.lock:
            return self.builds.setdefault(item, len(self.builds) + 41)

    def forget_queue(self) -> None:
        """Every started item leaves the queue API (404), as Jenkins does minutes later."""
        with self.lock:
            self.forgotten |= set(self.builds)

    def route(self, request: RecordedRequest) -> Reply:
        expected = base64.b64encode(f"{self.user}:{self.api_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Reply.text("Unauthorized", 401)
        assert "jenkins-crumb" not in request.headers, "an API token needs no crumb"
        if match := self._TRIGGER.fullmatch(request.path):
            params = {k: v[-1] for k, v in request.query.items()}
            new = FakeRun(len(self.runs) + 1, params.get("FIREBELL_RUN_ID", ""), params, "")
            self.runs.append(new)
            self.jobs[new.id] = match.group(1)
            return Reply(201, headers={"Location": f"{self.base_url}/queue/item/{new.id}/"})
        if match := self._ITEM.fullmatch(request.path):
            item = int(match.group(1))
            run = next((r for r in self.runs if r.id == item), None)
            if run is None or item in self.forgotten:
                return Reply.text("Not Found", 404)
            self.queue_reads[item] = self.queue_reads.get(item, 0) + 1
            if self.queue_reads[item] > self.queue_polls and not run.cancelled:
                self.start(item)
            number = self.builds.get(item)
            executable = {"number": number, "url": self._build_url(item)} if number else None
            return Reply.json(
                {
                    "id": item,
                    "why": None if number else "Waiting for next available executor",
                    "blocked": False,
                    "cancelled": run.cancelled,
                    "executable": executable,
                }
            )
        if match := self._BUILD.fullmatch(request.path):
            owner = next((i for i, n in self.builds.items() if n == int(match.group(2))), None)
            if owner is None or self.jobs[owner] != match.group(1):
                return Reply.text("Not Found", 404)
            item, run = owner, self.runs[owner - 1]
            if match.group(3) == "stop":
                assert request.method == "POST"
                run.cancelled = True
                return Reply(200)
            result = "ABORTED" if run.cancelled else run.step(self.sequence)
            return Reply.json(
                {
                    "number": self.builds[item],
                    "building": result is None,
                    "result": result,
                    "url": self._build_url(item),
                }
            )
        if match := self._JOB.fullmatch(request.path):
            started = [i for i in reversed(list(self.builds)) if self.jobs[i] == match.group(1)]
            return Reply.json(
                {
                    "builds": [
                        {
                            "number": self.builds[i],
                            "url": self._build_url(i),
                            "actions": [
                                {
                                    "_class": "hudson.model.ParametersAction",
                                    "parameters": [
                                        {"name": k, "value": v}
                                        for k, v in self.runs[i - 1].params.items()
                                    ],
                                },
                                {},
                            ],
                        }
                        for i in started
                    ]
                }
            )
        if request.path == "/queue/api/json":
            queued = [r for r in self.runs if r.id not in self.builds and not r.cancelled]
            return Reply.json(
                {
                    "items": [
                        {
                            "id": r.id,
                            "task": {"url": self.base_url + self.jobs[r.id] + "/"},
                            "actions": [
                                {
                                    "parameters": [
                                        {"name": k, "value": v} for k, v in r.params.items()
                                    ]
                                }
                            ],
                        }
                        for r in queued
                    ]
                }
            )
        if request.path == "/queue/cancelItem":
            assert request.method == "POST"
            self.runs[int(request.query["id"][0]) - 1].cancelled = True
            return Reply(204)
        return Reply.text("Not Found", 404)

    def _build_url(self, item: int) -> str:
        return f"{self.base_url}{self.jobs[item]}/{self.builds[item]}/"


def webhook_signature_ok(secret: str, request: RecordedRequest, now: datetime) -> bool:
    """A receiver's check, exactly as the README documents it: HMAC-SHA256 over
    `timestamp + "." + raw body`, hex, prefixed v1=, timestamp at most 5 minutes old."""
    timestamp = request.headers.get("x-firebell-timestamp", "")
    if not timestamp.isdigit():
        return False
    if abs(now - datetime.fromtimestamp(int(timestamp), UTC)) > WEBHOOK_MAX_AGE:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    return hmac.compare_digest(
        request.headers.get("x-firebell-signature", ""), "v1=" + mac.hexdigest()
    )


class FakeWebhook(FakeCiServer):
    """A receiver at /hook: verifies the signature (401 otherwise), dedups on
    Idempotency-Key (`deliveries`: key -> body, `duplicates`), answers 200, or with
    `status_sequence` a status_url polled through [(status, conclusion), ...]."""

    def __init__(
        self,
        secret: str = "whsec-fake",
        status_sequence: list[tuple[str, str | None]] | None = None,
    ) -> None:
        self.secret, self.status_sequence = secret, status_sequence
        self.deliveries: dict[str, Any] = {}
        self.duplicates = 0
        self.rejected = 0
        super().__init__()

    def connection(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "webhook",
            "url": self.base_url + "/hook",
            "secret": self.secret,
            "allow_private": True,
            "poll_interval": "1s",
            **overrides,
        }

    def is_dispatch(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path == "/hook"

    def route(self, request: RecordedRequest) -> Reply:
        if not webhook_signature_ok(self.secret, request, datetime.now(UTC)):
            self.rejected += 1
            return Reply.json({"error": "bad signature"}, 401)
        if request.path == "/hook":
            assert request.headers.get("content-type") == "application/json", request.headers
            key = request.headers["idempotency-key"]
            if key in self.deliveries:
                self.duplicates += 1
            else:
                self.deliveries[key] = request.json()
                self.runs.append(FakeRun(len(self.runs) + 1, key, {}, ""))
            run = self.run_by_correlation(key)
            if self.status_sequence is None:
                return Reply.json({"ok": True})
            return Reply.json({"ok": True, "status_url": f"{self.base_url}/hook/status/{run.id}"})
        match = re.fullmatch(r"/hook/status/([0-9]+)", request.path)
        if match and self.status_sequence and request.method == "GET":
            status, conclusion = self.runs[int(match.group(1)) - 1].step(self.status_sequence)
            return Reply.json({"status": status, "conclusion": conclusion})
        return Reply.json({"error": "not found"}, 404)


__all__ = [
    "DROP",
    "Created",
    "FakeGitHub",
    "FakeGitLab",
    "FakeJenkins",
    "FakeRun",
    "FakeWebhook",
    "Reply",
    "webhook_signature_ok",
]
