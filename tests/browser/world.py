"""The firebell the browser tests drive: a real `firebell serve` on a free loopback port
with three people (alice and bob respond, victor only views), each with a personal token,
a machine token for the webhook, a Europe/Berlin weekly rotation, an escalation paging
alice at a loopback JSON sink, and two playbooks for service=api: a Loki read (loopback
Loki) and a CI webhook deploy behind bob's approval (loopback webhook receiver)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.browser_support import SETTLED
from tests.support.loopback_ci import FakeWebhook
from tests.support.loopback_http import LoopbackServer, RecordedRequest, Reply, start
from tests.support.server_process import ServerProcess
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

TOKENS = {
    "ALICE_TOKEN": "alice-web-token-1a2b3c4d",
    "BOB_TOKEN": "bob-web-token-5e6f7a8b",
    "VICTOR_TOKEN": "victor-web-token-9c0d1e2f",
    "AM_TOKEN": "am-web-token-3a4b5c6d",
    "LOKI_TOKEN": "loki-web-token-7e8f9a0b",
    "DEPLOY_HOOK_SECRET": "whsec-web-deploy-1c2d3e4f",
}
ALICE, BOB, VICTOR = TOKENS["ALICE_TOKEN"], TOKENS["BOB_TOKEN"], TOKENS["VICTOR_TOKEN"]
MACHINE = TOKENS["AM_TOKEN"]

# A manual read of the service's Loki errors: what a dry-run shows and never sends.
API_LOGS = """\
id: api-logs
description: Recent API errors from Loki
match: ['service="api"']
run: manual
steps:
  - id: loki
    uses: logs.loki
    with: {connection: loki, selector: {app: "{{ incident.labels.service }}"}, contains: error,
           since: 30m, limit: 100}
"""
# A deploy hook that runs only once bob approved it (alice, who starts it, may not).
API_DEPLOY = """\
id: api-deploy
description: Roll back the API through the deploy hook
match: ['service="api"']
run: manual
steps:
  - id: rollback
    uses: ci.webhook
    with: {connection: deployhook, body: {incident: "{{ incident.id }}", action: rollback}}
    approval: {approvers: ["user:bob"], required: 1, expires_in: 30m}
"""


def config(database_url: str, sink: str, connections: dict[str, Any]) -> str:
    host = sink.removeprefix("http://")
    data = {
        "database_url": database_url,
        "api_tokens": [
            {"token": "${ALICE_TOKEN}", "user": "alice"},
            {"token": "${BOB_TOKEN}", "user": "bob"},
            {"token": "${VICTOR_TOKEN}", "user": "victor"},
            {"token": "${AM_TOKEN}", "name": "alertmanager"},
        ],
        "users": [
            {"name": "alice", "role": "responder", "time_zone": "America/New_York",
             "contacts": [f"json://{host}/alice"]},
            {"name": "bob", "role": "responder", "time_zone": "Europe/Berlin",
             "contacts": [f"json://{host}/bob"]},
            {"name": "victor", "role": "viewer"},
        ],
        # Weekly hand-offs on Monday 09:00 Berlin time; 2027-03-28 is the EU spring change.
        "schedules": [{"name": "primary", "time_zone": "Europe/Berlin", "layers": [
            {"rotation": "weekly", "members": ["alice", "bob"], "handoff": "mon 09:00",
             "start": "2027-01-04"}]}],
        "escalation_policies": [{"name": "ops", "steps": [
            {"notify": ["user:alice"], "wait": "30m"}, {"notify": ["user:bob"], "wait": "30m"}]}],
        "route": {"group_wait": "0s", "receiver": {"escalation": "ops"}},
        "playbooks": "./playbooks",
        "connections": connections,
    }  # fmt: skip
    return json.dumps(data, indent=1)


def loki_answer(request: RecordedRequest) -> Reply:
    return Reply.json({"status": "success", "data": {"resultType": "streams", "result": []}})


@dataclass
class World:
    server: ServerProcess
    api: httpx.Client  # as alice, for setting up and checking what the page did
    sink: LoopbackServer  # the pages (json:// contacts)
    loki: LoopbackServer
    hook: FakeWebhook

    @property
    def url(self) -> str:
        return self.server.base_url

    def post_alert(self, name: str | None = None, **labels: str) -> int:
        """An Alertmanager alert through the webhook (machine token); its incident's id."""
        name = name or unique("Alert")
        service = labels.pop("service", unique("svc"))
        alert = am_alert(name, service=service)
        alert["labels"].update(labels)
        answer = self.api.post(
            "/webhooks/alertmanager",
            content=am_webhook([alert]),
            headers={"Authorization": f"Bearer {MACHINE}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        items = self.api.get("/api/v1/incidents", params={"service": service}).json()["items"]
        (item,) = [i for i in items if i["title"].startswith(name) or name in i["title"]]
        return int(item["id"])

    def incident(self, incident_id: int) -> dict[str, Any]:
        answer = self.api.get(f"/api/v1/incidents/{incident_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def open_count(self) -> int:
        answer = self.api.get("/api/v1/incidents", params={"status": "open", "limit": 1000})
        return len(answer.json()["items"])


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@contextmanager
def running_world(tmp_path: Path) -> Iterator[World]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "api-logs.yaml").write_text(API_LOGS)
    (folder / "api-deploy.yaml").write_text(API_DEPLOY)
    with ExitStack() as stack:
        sink = stack.enter_context(start(lambda request: Reply.json({"ok": True})))
        loki = stack.enter_context(start(loki_answer))
        hook = stack.enter_context(FakeWebhook(secret=TOKENS["DEPLOY_HOOK_SECRET"]))
        connections = {
            "loki": {"type": "loki", "url": loki.base_url, "allow_private": True,
                     "token": "${LOKI_TOKEN}"},
            "deployhook": hook.connection(secret="${DEPLOY_HOOK_SECRET}"),
        }  # fmt: skip
        text = config(f"sqlite:///{tmp_path}/firebell.db", sink.base_url, connections)
        server = ServerProcess(tmp_path, text, env=TOKENS, name="web")
        stack.enter_context(server)  # `serve` migrates a SQLite database itself
        api = stack.enter_context(
            httpx.Client(
                base_url=server.base_url,
                timeout=10,
                headers={"Authorization": f"Bearer {ALICE}"},
            )
        )
        yield World(server, api, sink, loki, hook)


# -- in the browser -----------------------------------------------------------------------


def login(page: Page, base_url: str, token: str, path: str = "/", *, live: bool = True) -> Page:
    """Log in through the /login form, landing on `path` (and, with JavaScript, wait for
    the live stream to connect)."""
    page.goto(f"{base_url}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Your personal API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(base_url + path) + "$"))
    if live:
        expect(page.locator("#live-status")).to_have_text("live")
    return page


def list_row(page: Page, incident_id: int) -> Any:
    return page.locator(f'#incident-list tr[data-incident-id="{incident_id}"]')


def wait_incident(world: World, incident_id: int, status: str) -> dict[str, Any]:
    wait_for(
        f"incident {incident_id} {status}",
        lambda: world.incident(incident_id)["status"] == status,
    )
    return world.incident(incident_id)


def settled(page: Page) -> Page:
    """Wait until the page is quiet: live, no refresh in flight, nothing new for a moment
    (each live section re-fetches itself when the stream connects)."""
    page.wait_for_function(SETTLED)
    return page
