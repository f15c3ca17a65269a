"""Per-person and machine tokens against a real `firebell serve` on a loopback port, on
SQLite and PostgreSQL: who a write is recorded as, what each role may do, and that no
token or contact password reaches the log, the API or `check-config`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting import wait_for
from tests.support.webhook_payloads import am_alert, am_webhook

pytestmark = pytest.mark.slow

TOKENS = {
    "ALICE_TOKEN": "alice-token-4f1b2c",
    "CAROL_TOKEN": "carol-token-9d8e7f",
    "AM_TOKEN": "am-token-0a1b2c3d",
    "SCRIPT_TOKEN": "k9",  # short secrets are secrets too
}
CONTACT_PASSWORD = "contact-pw-5e6f"
CONFIG = """\
database_url: {database_url}
api_tokens:
  - {{token: "${{ALICE_TOKEN}}", user: alice}}
  - {{token: "${{CAROL_TOKEN}}", user: carol}}
  - {{token: "${{AM_TOKEN}}", name: alertmanager}}
  - "${{SCRIPT_TOKEN}}"
users:
  - {{name: alice, contacts: ["json://alice:{password}@127.0.0.1:{closed}/page",
                                 "form://alice:{password}@127.0.0.1:{closed}/form"]}}
  - {{name: carol, role: viewer}}
escalation_policies:
  - {{name: default, steps: [{{notify: ["user:alice"], wait: 10m}}]}}
route:
  receiver: {{escalation: default}}
"""


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    text = CONFIG.format(database_url=database_url, password=CONTACT_PASSWORD, closed=free_port())
    proc = ServerProcess(tmp_path, text, env=TOKENS)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    proc.start(args=["--log-level", "debug"])
    try:
        yield proc
    finally:
        proc.stop()


def open_incident(http: httpx.Client, name: str = "HighErrorRate") -> int:
    posted = http.post(
        "/webhooks/alertmanager",
        content=am_webhook([am_alert(name)]),
        headers={**auth("AM_TOKEN"), "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text
    items = http.get("/api/v1/incidents", headers=auth("AM_TOKEN")).json()["items"]
    return int(next(i["id"] for i in items if i["title"].startswith(name)))


def timeline(http: httpx.Client, iid: int) -> list[tuple[str, Any]]:
    item = http.get(f"/api/v1/incidents/{iid}", headers=auth("CAROL_TOKEN")).json()
    return [(e["kind"], e["actor"]) for e in item["timeline"]]


def test_writes_name_the_authenticated_caller_and_roles_are_enforced(
    server: ServerProcess,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        # The machine token posts a webhook and reads.
        iid = open_incident(http)

        # alice acks as herself: a name in the body is refused, not believed.
        claimed = http.post(
            f"/api/v1/incidents/{iid}/ack", json={"actor": "bob"}, headers=auth("ALICE_TOKEN")
        )
        assert claimed.status_code == 422, claimed.text
        assert claimed.json()["field"] == "body.actor"
        assert "authenticated caller" in claimed.json()["detail"]
        acked = http.post(f"/api/v1/incidents/{iid}/ack", headers=auth("ALICE_TOKEN"))
        assert acked.status_code == 200, acked.text
        assert ("acknowledged", "alice") in timeline(http, iid)
        assert not any(actor == "bob" for _, actor in timeline(http, iid))

        # carol is a viewer: she reads, and every write is 403 naming the role needed.
        assert http.get("/api/v1/silences", headers=auth("CAROL_TOKEN")).status_code == 200
        denied = http.post(f"/api/v1/incidents/{iid}/resolve", headers=auth("CAROL_TOKEN"))
        assert denied.status_code == 403, denied.text
        assert denied.json()["detail"].startswith(
            "changing incidents or silences needs the responder role; user carol is a viewer"
        )
        silence = {"matchers": ["service=api"], "duration": "1h"}
        assert (
            http.post("/api/v1/silences", json=silence, headers=auth("CAROL_TOKEN")).status_code
            == 403
        )
        # A viewer's token does not open incidents either.
        as_carol = http.post(
            "/webhooks/alertmanager",
            content=am_webhook([am_alert("Other")]),
            headers={**auth("CAROL_TOKEN"), "Content-Type": "application/json"},
        )
        assert as_carol.status_code == 401

        # A machine token's writes name the token, never a person.
        resolved = http.post(
            f"/api/v1/incidents/{iid}/resolve", json={"note": "done"}, headers=auth("AM_TOKEN")
        )
        assert resolved.status_code == 200, resolved.text
        assert ("resolved", "token:alertmanager") in timeline(http, iid)
        named = http.post(
            "/api/v1/silences",
            json={**silence, "created_by": "alice"},
            headers=auth("SCRIPT_TOKEN"),
        )
        assert (named.status_code, named.json()["field"]) == (422, "body.created_by")
        created = http.post("/api/v1/silences", json=silence, headers=auth("SCRIPT_TOKEN"))
        assert created.status_code == 201, created.text
        assert created.json()["created_by"] == "token:token-4"
        expired = http.delete(
            f"/api/v1/silences/{created.json()['id']}", headers=auth("ALICE_TOKEN")
        )
        assert (expired.status_code, expired.json()["expired_by"]) == (200, "alice")

        wrong = http.get("/api/v1/incidents", headers={"Authorization": "Bearer k"})
        assert wrong.status_code == 401


def test_no_token_or_contact_password_in_the_log_the_api_or_check_config(
    server: ServerProcess,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        iid = open_incident(http)
        # alice is paged through two contact URLs with a password, both failing (closed
        # port): json:// sent natively, form:// through apprise (which logs at debug).
        wait_for("a failed native page in the log", lambda: "ConnectError" in server.log(), 30)
        wait_for("a failed apprise page", lambda: "apprise form:// failed" in server.log(), 30)
        for name in ("ALICE_TOKEN", "CAROL_TOKEN", "AM_TOKEN"):
            assert http.get("/api/v1/incidents", headers=auth(name)).status_code == 200
        http.get("/api/v1/incidents", headers={"Authorization": f"Bearer {TOKENS['AM_TOKEN']}x"})
        shown = http.get(f"/api/v1/incidents/{iid}", headers=auth("ALICE_TOKEN")).text
        alerts = http.get("/api/v1/alerts", headers=auth("ALICE_TOKEN")).text
    server.stop()
    log = server.log()
    assert '"level":"debug"' in log  # apprise and the app logged at debug level
    checked = server.cli("check-config", str(server.config_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        "api tokens: 4: alice (responder), carol (viewer), token:alertmanager (responder), "
        "token:token-4 (responder)"
    ) in checked.stdout
    for text in (log, shown, alerts, checked.stdout + checked.stderr):
        assert CONTACT_PASSWORD not in text
        for token in ("alice-token-4f1b2c", "carol-token-9d8e7f", "am-token-0a1b2c3d"):
            assert token not in text
