"""The signed `webhook` contact: the Contact model and its checks, and pages delivered end to
end (real worker, real notifiers on the shared pool, loopback receiver) that verify with
the secret, carry the outbox row's Idempotency-Key, and never store or log the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.config import ConfigError, check_config_file
from bot.roles import create_app
from bot.workers.paging_worker import install_paging
from routing.oncall.people import Contact, User
from routing.paging.outbox import notifications_of
from tests.support.paging import Clock, am_payload, settings_from
from tests.support.raw_http import RawReply, RawRequest, RawSink

SECRET = "hook-secret-7731"
JSON = {"content-type": "application/json"}


def verify(request: RawRequest, secret: str) -> bool:
    """What the README tells a receiver to do."""
    headers = request.header_map()
    timestamp = headers["x-firebell-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    return hmac.compare_digest(headers["x-firebell-signature"], "v1=" + expected.hexdigest())


def test_a_plain_string_is_an_apprise_contact() -> None:
    user = User.model_validate(
        {
            "name": "a",
            "contacts": [
                "ntfy://ntfy.example/a",
                {"url": " https://hooks.example/page ", "type": "webhook", "secret": "s1"},
                {"url": "json://h/x", "every_page": True},
            ],
        }
    )
    plain, signed, every = user.contacts
    assert plain == Contact(url="ntfy://ntfy.example/a")
    assert (plain.type, plain.every_page, plain.address) == ("apprise", False, plain.url)
    assert signed.address == "webhook:https://hooks.example/page"
    assert every.every_page and every.address == "json://h/x"


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ({"url": "https://hooks.example/p", "type": "webhook"}, "secret: required"),
        ({"url": "json://h/x", "secret": "s"}, "secret: only a webhook contact is signed"),
        ({"url": "ftp://h/x", "type": "webhook", "secret": "s"}, "invalid webhook URL"),
        ({"url": "https://u:pw@h/x", "type": "webhook", "secret": "s"}, "invalid webhook URL"),
        ({"url": "https://h/x", "type": "sms", "secret": "s"}, "type"),
    ],
)
def test_contact_errors_name_the_problem(contact: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        User.model_validate({"name": "a", "contacts": [contact]})
    assert info.value.errors()[0]["loc"][:2] == ("contacts", 0)
    assert "pw@" not in info.value.errors()[0]["msg"]  # the message shows it redacted


def _check(tmp_path: Path, contacts: str) -> tuple[bool, str]:
    config = tmp_path / "firebell.yaml"
    config.write_text(f"users:\n  - name: alice\n    contacts: {contacts}\n")
    return check_config_file(config, {})


def test_check_config_refuses_a_webhook_without_a_secret_naming_its_place(
    tmp_path: Path,
) -> None:
    ok, report = _check(
        tmp_path, '["ntfy://n.example/a", {url: "https://h.example/p", type: webhook}]'
    )
    assert not ok
    assert "users[0].contacts[1]: secret: required for a webhook contact" in report


def test_check_config_refuses_a_json_url_the_native_sender_would_send_differently(
    tmp_path: Path,
) -> None:
    ok, report = _check(tmp_path, '["json://al:PW-9@h.example/x?format=html"]')
    assert not ok
    assert "users[0].contacts[0]: target: json://***@h.example/***: not supported" in report
    assert "PW-9" not in report


def test_two_secrets_for_one_webhook_url_are_refused() -> None:
    hook = "{url: 'https://h.example/p', type: webhook, secret: %s}"
    with pytest.raises(ConfigError, match=r"users\[1\]\.contacts\[0\]\.secret: differs"):
        settings_from(
            f"users:\n  - {{name: a, contacts: [{hook % 's1'}]}}\n"
            f"  - {{name: b, contacts: [{hook % 's2'}]}}\n"
        )


def test_signed_pages_end_to_end(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    answers = [RawReply(503, {"Retry-After": "1"}), RawReply(200)]

    def receiver(_: RawRequest) -> RawReply:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    clock = Clock()
    with RawSink(receiver) as sink:
        url = f"http://127.0.0.1:{sink.port}/page"
        settings = settings_from(
            f"""
database_url: "{database_url}"
users:
  - name: alice
    contacts: [{{url: "{url}", type: webhook, secret: "{SECRET}"}}]
escalation_policies:
  - {{name: ops, steps: [{{notify: ["user:alice"], wait: 5m}}]}}
route: {{receiver: {{escalation: ops}}}}
"""
        )
        app = create_app(settings, clock=clock)
        worker = install_paging(app.state.runtime, background=False)  # the real notifiers
        with TestClient(app) as client, caplog.at_level(logging.DEBUG):
            client.post("/webhooks/alertmanager", content=am_payload(), headers=JSON)
            first = client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
            assert [o for _, o in first.delivered] == ["retry"]
            clock.advance(seconds=30)
            second = client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
            assert [o for _, o in second.delivered] == ["sent"]
            rt = client.app.state.runtime  # type: ignore[attr-defined]
            with rt.engine.connect() as conn:
                (row,) = notifications_of(conn, 1)

    tried, sent = sink.requests
    for request in (tried, sent):
        assert request.method == "POST" and request.target == "/page"
        assert verify(request, SECRET) and not verify(request, "another secret")
        # The same key on the retry: a receiver that got the first one drops the second.
        assert request.header_map()["idempotency-key"] == f"fb-notification-{row['id']}"
    page = json.loads(sent.body)
    assert page["type"] == "page" and page["incident_id"] == 1
    assert page["recipient"] == "alice" and page["severity"] == "critical"
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in page["summaries"]
    assert page["ack_hint"].startswith("POST ") or "ack 1" in page["ack_hint"]
    assert row["address"] == f"webhook:{url}" and row["status"] == "sent"
    stored = json.dumps({k: str(v) for k, v in dict(row).items()})
    for text in (stored, caplog.text):
        assert SECRET not in text


def test_a_webhook_secret_is_masked_in_dumps_and_scrubbed_from_logs() -> None:
    settings = settings_from(
        "users:\n  - name: a\n    contacts:\n"
        f"      - {{url: 'https://h.example/p', type: webhook, secret: {SECRET}}}\n"
    )
    (contact,) = settings.redacted_dump()["users"][0]["contacts"]
    assert contact == {
        "url": "https://h.example/***",
        "type": "webhook",
        "secret": "***",
        "every_page": False,
    }
    assert SECRET in settings.secret_values()  # the log scrubber's list
    assert settings.webhook_secrets == {"https://h.example/p": SECRET}
