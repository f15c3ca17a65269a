"""Renderers: every fact a paged person needs is present, and Slack/Discord limits hold."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.notifiers.base import Notification
from integrations.notifiers.button import (
    IncidentAction,
    parse_discord_custom_id,
    parse_slack_action,
)
from integrations.notifiers.discord_embed import (
    RESOLVED_COLOR,
    SEVERITY_COLORS,
    discord_components,
    discord_message,
    render_discord_embed,
)
from integrations.notifiers.message import render_text, render_title
from integrations.notifiers.slack_blocks import render_slack_blocks, render_slack_text
from routing.intake.alert import Severity
from tests.support.notifier_sample import FIRST_SEEN, sample_notification


def _slack_buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _all_slack_text(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# ---------------------------------------------------------------- plain text


def test_text_has_everything_a_paged_person_needs() -> None:
    text = render_text(sample_notification())
    assert text.splitlines()[0] == "[CRITICAL] High error rate on checkout API"
    for needed in (
        "Incident #42",
        "critical",
        "checkout",
        "Status: triggered",
        "12 occurrences (2 alerts) since 2024-05-01 03:12 UTC",
        "last 03:40 UTC (over 28m)",
        "policy checkout-oncall, step 2 of 2, pass 1 of 3, paging alice",
        "To acknowledge: /incident ack 42",
        "node-7.prod:9100 API 5xx above 5% for 10m",
        "node-9.prod:9100 API 5xx above 5% for 10m",
        "Runbook: https://runbooks.example.org/checkout/5xx",
        "https://prometheus.example.org/graph?g0.expr=rate%28http_5xx%29",
        "Incident: https://firebell.example.org/incidents/42",
        "env=prod, team=payments",
    ):
        assert needed in text, needed


def test_text_without_optional_facts_stays_readable() -> None:
    n = sample_notification(
        source_urls=[],
        runbook_url=None,
        policy=None,
        step=None,
        recipient=None,
        ack_hint="",
        labels={},
        summaries=[],
        incident_url=None,
        occurrences=1,
        alert_count=1,
        last_seen=FIRST_SEEN,
    )
    text = render_text(n)
    assert "1 occurrence (1 alert) since 2024-05-01 03:12 UTC" in text
    assert "last" not in text
    assert "Escalation" not in text and "Runbook" not in text and "None" not in text
    # Without an explicit hint the chat command still tells people how to ack.
    assert "To acknowledge: /incident ack 42" in text


def test_text_for_acknowledged_and_resolved() -> None:
    acked = render_text(sample_notification(status="acknowledged", status_by="bob"))
    assert acked.startswith("[ACKNOWLEDGED] ")
    assert "Status: acknowledged by bob" in acked
    assert "To acknowledge" not in acked
    resolved = sample_notification(status="resolved")
    assert render_title(resolved) == "[RESOLVED] High error rate on checkout API"


def test_naive_datetimes_are_read_as_utc() -> None:
    n = sample_notification(first_seen=FIRST_SEEN.replace(tzinfo=None))
    assert "since 2024-05-01 03:12 UTC" in render_text(n)


def test_alert_storm_is_capped_and_counted() -> None:
    n = sample_notification(summaries=[f"host-{i} down" for i in range(500)])
    text = render_text(n)
    assert "host-0 down" in text and "host-49 down" in text
    assert "host-50 down" not in text
    assert "… and 450 more" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "open"), ("occurrences", -1), ("summaries", "one string"), ("severity", "high")],
)
def test_bad_notification_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        sample_notification(**{field: value})


# ---------------------------------------------------------------- Slack


def test_slack_blocks_carry_the_facts_and_buttons() -> None:
    blocks = render_slack_blocks(sample_notification())
    text = _all_slack_text(blocks)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"].startswith(":red_circle: [CRITICAL] High error rate")
    for needed in (
        "checkout",
        "triggered",
        "12 occurrences",
        "step 2 of 2, pass 1 of 3",
        "paging alice",
        "node-7.prod:9100 API 5xx above 5% for 10m",
        "<https://runbooks.example.org/checkout/5xx|runbook>",
        "|source 1>",
        "<https://firebell.example.org/incidents/42|#42>",
        "To acknowledge: /incident ack 42",
    ):
        assert needed in text, needed
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1 and actions[0]["block_id"] == "incident:42"
    buttons = _slack_buttons(blocks)
    assert [b["action_id"] for b in buttons] == [
        "incident_ack",
        "incident_resolve",
        "incident_silence_1h",
        "incident_run_playbook",
    ]
    assert {b["value"] for b in buttons} == {"42"}
    assert buttons[0]["style"] == "primary"


def test_slack_buttons_follow_the_status() -> None:
    acked = _slack_buttons(render_slack_blocks(sample_notification(status="acknowledged")))
    assert "incident_ack" not in [b["action_id"] for b in acked]
    assert "incident_resolve" in [b["action_id"] for b in acked]
    resolved = render_slack_blocks(sample_notification(status="resolved"))
    assert not [b for b in resolved if b["type"] == "actions"]
    assert resolved[0]["text"]["text"].startswith(":white_check_mark: [RESOLVED]")


def test_slack_escapes_alert_text() -> None:
    n = sample_notification(incident_title="disk <!channel> & more", summaries=["<@U123> >_<"])
    blocks = render_slack_blocks(n)
    text = _all_slack_text(blocks[1:]) + render_slack_text(n)
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;@U123&gt; &gt;_&lt;" in text


def test_slack_fallback_text_carries_the_alert_lines() -> None:
    text = render_slack_text(sample_notification())
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in text
    assert "[CRITICAL] High error rate on checkout API" in text


def test_slack_long_title_is_truncated_within_the_header_limit() -> None:
    blocks = render_slack_blocks(sample_notification(incident_title="x" * 1000))
    header = blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


def test_slack_action_round_trip() -> None:
    for button in _slack_buttons(render_slack_blocks(sample_notification())):
        _action, incident = parse_slack_action(button["action_id"], button["value"])
        assert incident == 42
    assert parse_slack_action("incident_silence_1h", "7") == (IncidentAction.SILENCE_1H, 7)
    with pytest.raises(ValueError, match=r"^action_id:"):
        parse_slack_action("time_off_balance", "42")
    with pytest.raises(ValueError, match=r"^value:"):
        parse_slack_action("incident_ack", "42; drop")


# ---------------------------------------------------------------- Discord


@pytest.mark.parametrize("severity", list(Severity))
def test_discord_embed_colour_follows_severity(severity: Severity) -> None:
    embed = render_discord_embed(sample_notification(severity=severity))
    assert embed["color"] == SEVERITY_COLORS[severity]
    assert SEVERITY_COLORS[Severity.CRITICAL] == 0xE01E5A
    resolved = render_discord_embed(sample_notification(severity=severity, status="resolved"))
    assert resolved["color"] == RESOLVED_COLOR


def test_discord_embed_fields_and_description() -> None:
    embed = render_discord_embed(sample_notification())
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Service"] == "checkout"
    assert fields["Status"] == "triggered"
    assert fields["Occurrences"].startswith("12 occurrences (2 alerts) since")
    assert "step 2 of 2, pass 1 of 3" in fields["Escalation"]
    assert "node-7.prod:9100 API 5xx above 5% for 10m" in embed["description"]
    assert "[runbook](https://runbooks.example.org/checkout/5xx)" in embed["description"]
    assert embed["url"] == "https://firebell.example.org/incidents/42"
    assert embed["timestamp"] == "2024-05-01T03:12:00+00:00"
    assert "/incident ack 42" in embed["footer"]["text"]


def test_discord_components_by_status_and_round_trip() -> None:
    rows = discord_components(sample_notification())
    assert len(rows) == 1 and rows[0]["type"] == 1
    buttons = rows[0]["components"]
    assert len(buttons) <= 5 and all(b["type"] == 2 for b in buttons)
    custom_ids = [b["custom_id"] for b in buttons if "custom_id" in b]
    assert custom_ids == [
        "incident:ack:42",
        "incident:resolve:42",
        "incident:silence1h:42",
        "incident:run:42",
    ]
    assert [parse_discord_custom_id(c)[0] for c in custom_ids] == list(IncidentAction)
    link = [b for b in buttons if b["style"] == 5]
    assert link == [
        {
            "type": 2,
            "style": 5,
            "label": "Runbook",
            "url": "https://runbooks.example.org/checkout/5xx",
        }
    ]
    acked = discord_components(sample_notification(status="acknowledged"))
    assert "incident:ack:42" not in json.dumps(acked)
    assert discord_components(sample_notification(status="resolved")) == []


@pytest.mark.parametrize("bad", ["incident:ack", "incident:nap:1", "other:ack:1", "incident:ack:x"])
def test_discord_custom_id_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^custom_id:"):
        parse_discord_custom_id(bad)


def test_discord_message_never_pings() -> None:
    message = discord_message(sample_notification(incident_title="@everyone disk full"))
    assert message["allowed_mentions"] == {"parse": []}
    assert "@everyone" in message["content"]


# ---------------------------------------------------------------- limits, fuzzed

_text = st.text(min_size=0, max_size=5000)
_urls = st.lists(st.text(max_size=300).map(lambda s: "https://x.example/" + s), max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(min_size=1, max_size=5000),
    summaries=st.lists(_text, max_size=80),
    urls=_urls,
    service=st.text(min_size=1, max_size=3000),
    step=_text,
    labels=st.dictionaries(st.text(max_size=200), st.text(max_size=500), max_size=40),
    status=st.sampled_from(["triggered", "acknowledged", "resolved"]),
)
def test_limits_hold_for_any_input(
    title: str,
    summaries: list[str],
    urls: list[str],
    service: str,
    step: str,
    labels: dict[str, str],
    status: str,
) -> None:
    n: Notification = sample_notification(
        incident_title=title,
        summaries=summaries,
        source_urls=urls,
        service=service,
        step=step or None,
        labels=labels,
        status=status,
        last_seen=FIRST_SEEN + timedelta(days=3),
    )
    blocks = render_slack_blocks(n)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
    assert len(render_slack_text(n)) <= 4000

    message = discord_message(n)
    assert len(message["content"]) <= 2000
    embed = message["embeds"][0]
    assert len(embed["title"]) <= 256
    assert len(embed.get("description", "")) <= 4096
    assert len(embed["fields"]) <= 25
    assert all(
        f["value"].strip() and len(f["value"]) <= 1024 and len(f["name"]) <= 256
        for f in embed["fields"]
    )
    total = len(embed["title"]) + len(embed.get("description", "")) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    for row in message["components"]:
        assert len(row["components"]) <= 5
        assert all(len(b.get("custom_id", "")) <= 100 for b in row["components"])


def test_discord_content_escapes_markdown_but_not_brackets() -> None:
    content = discord_message(sample_notification(incident_title="*bold* [x](http://evil)"))
    assert content["content"] == "[CRITICAL] \\*bold\\* [x]\\(http://evil)"
