"""ci.webhook against a loopback receiver that verifies the documented signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from integrations.ci.base import RemoteRun
from tests.integrations.ci.support import Driver
from tests.support.loopback_ci import FakeWebhook, Reply

ARGS = {"connection": "deployhook", "body": {"incident": "42", "outcome": "succeeded", "n": 1.5}}
CID = "fb-7-notify"
CONTEXT = {
    "run_id": 7,
    "playbook": "api-hotfix",
    "step": "notify",
    "incident": {"id": 42, "url": "https://fb.example/i/42", "labels": {"service": "api"}},
    "params": {"ref": "main"},
}


def test_a_signed_post_the_receiver_verifies_and_accepts() -> None:
    before = int(datetime.now(UTC).timestamp())
    with FakeWebhook() as hook:
        driver = Driver("webhook", hook.connection(), ARGS)
        sent = driver.dispatch(CID, CONTEXT)
        assert sent.run is not None
        polled = driver.poll(sent.run)
    (request,) = hook.dispatches
    assert hook.rejected == 0 and hook.deliveries == {CID: {**CONTEXT, "body": ARGS["body"]}}
    assert request.path == "/hook" and request.headers["idempotency-key"] == CID
    assert request.headers["content-type"] == "application/json"
    # The documented algorithm, recomputed here over the raw bytes received.
    timestamp = request.headers["x-firebell-timestamp"]
    assert before <= int(timestamp) <= before + 5
    expected = hmac.new(b"whsec-fake", f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-firebell-signature"] == "v1=" + expected.hexdigest()
    assert json.loads(request.body)["incident"]["labels"] == {"service": "api"}
    assert (sent.ambiguous, polled.final, polled.conclusion) == (False, True, "success")


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_ambiguous() -> None:
    with FakeWebhook() as hook:
        sent = Driver("webhook", hook.connection(secret="other"), ARGS).dispatch(CID, CONTEXT)
    assert sent.run is None and not sent.ambiguous and "HTTP 401" in sent.detail
    assert hook.rejected == 1 and hook.deliveries == {}
    assert "other" not in sent.detail


def test_a_status_url_is_polled_with_signed_gets_until_a_conclusion() -> None:
    sequence: list[tuple[str, str | None]] = [("running", None), ("completed", "failure")]
    with FakeWebhook(status_sequence=sequence) as hook:
        driver = Driver("webhook", hook.connection(), ARGS)
        sent = driver.dispatch(CID, CONTEXT)
        assert sent.run == RemoteRun("status /status/1", f"{hook.base_url}/hook/status/1")
        first, second = driver.poll(sent.run), driver.poll(sent.run)
    assert (first.status, first.final) == ("running", False)
    assert (second.status, second.final, second.conclusion) == ("completed", True, "failure")
    assert hook.rejected == 0 and [r.method for r in hook.requests] == ["POST", "GET", "GET"]


def test_a_status_url_elsewhere_is_ignored_and_5xx_is_ambiguous() -> None:
    with FakeWebhook() as hook:
        hook.script_dispatch(Reply.json({"status_url": "http://169.254.169.254/x"}))
        driver = Driver("webhook", hook.connection(), ARGS)
        elsewhere = driver.dispatch(CID, CONTEXT)
        hook.script_dispatch(Reply.text("down", 503))
        failed = driver.dispatch("fb-7-again", CONTEXT)
        assert driver.find("fb-7-again", datetime.now(UTC)) is None
    assert elsewhere.run == RemoteRun(f"accepted {CID}")
    assert failed.run is None and failed.ambiguous
    assert len(hook.dispatches) == 2  # find never posts again


def test_the_plan_shows_no_signature_and_no_secret() -> None:
    driver = Driver(
        "webhook",
        {"type": "webhook", "url": "https://d.example/fb", "secret": "s3cret-value"},
        ARGS,
    )
    call = driver.plan(CID, CONTEXT)
    shown = driver.backend.describe(call, driver.connection)
    assert shown["url"] == "https://d.example/fb" and shown["body"]["body"] == ARGS["body"]
    assert "s3cret-value" not in str(shown) and "X-Firebell-Signature" not in shown["headers"]
    assert driver.plan(CID, CONTEXT) == call  # pure: the same request hashes the same
