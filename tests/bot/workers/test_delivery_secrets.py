"""A notifier's error that names where it sent (a webhook URL with its token, a password)
is stored, shown on the timeline and logged without those credentials."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.roles import create_app
from bot.workers.paging_worker import install_paging
from integrations.notifiers import DeliveryResult
from routing.paging.outbox import notifications_of
from tests.support.paging import Clock, RecordingNotifier, am_payload, settings_from

JSON = {"Content-Type": "application/json"}

CONTACT = "json://alice:page-pw-81@hooks.example.com/hook-token-81"


def _paging_alice(database_url: str) -> Settings:
    """One user, alice, paged through CONTACT by every alert."""
    return settings_from(
        f"""
database_url: "{database_url}"
users:
  - {{name: alice, contacts: ["{CONTACT}"]}}
escalation_policies:
  - {{name: ops, steps: [{{notify: ["user:alice"], wait: 5m}}]}}
route: {{receiver: {{escalation: ops}}}}
"""
    )


def test_a_failure_detail_never_carries_the_contacts_credentials(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    echoing = DeliveryResult.permanent(
        "HTTP 404 from https://hooks.example.com/hook-token-81 "
        f"(user alice:page-pw-81, sent to {CONTACT})"
    )
    notifier = RecordingNotifier([echoing])
    settings = _paging_alice(database_url)
    clock = Clock()
    app = create_app(settings, clock=clock)
    worker = install_paging(app.state.runtime, notifiers={"json": notifier}, background=False)
    with TestClient(app) as client, caplog.at_level(logging.WARNING):
        client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
        assert [target for target, _ in notifier.sent] == [CONTACT]
        shown = client.get("/api/v1/incidents/1").text
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.engine.connect() as conn:
            (row,) = notifications_of(conn, 1)
    assert row["status"] == "failed"
    assert row["detail"] == "HTTP 404 from https://*** (user alice:***, sent to ***)"
    for text in (shown, row["detail"], caplog.text):
        assert "page-pw-81" not in text and "hook-token-81" not in text
    assert "HTTP 404 from https://***" in shown


class _RaisingNotifier:
    """A notifier bug whose exception quotes the URL it was posting to."""

    kind = "json"

    async def send(self, target: str, notification: object) -> DeliveryResult:
        raise RuntimeError("POST https://hooks.example.com/hook-token-81 (alice:page-pw-81)")


def test_a_notifier_that_raises_is_logged_without_the_contacts_credentials(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _paging_alice(database_url)
    clock = Clock()
    app = create_app(settings, clock=clock)
    notifiers = {"json": _RaisingNotifier()}
    worker = install_paging(app.state.runtime, notifiers=notifiers, background=False)
    with TestClient(app) as client, caplog.at_level(logging.WARNING):
        client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
        client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
    assert "notifier json raised" in caplog.text and "RuntimeError" in caplog.text
    assert "page-pw-81" not in caplog.text and "hook-token-81" not in caplog.text
