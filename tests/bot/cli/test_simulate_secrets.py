"""`firebell simulate` shows where pages and channel notices go without the credentials
in contact and channel URLs (passwords, webhook tokens), in text and in JSON."""

from __future__ import annotations

import json

from bot.cli.simulate import run_simulation
from bot.cli.simulate_render import render_json, render_text
from bot.config import parse_config
from tests.support.paging import am_payload
from tests.support.simulate import BEFORE_HANDOFF, example_config

MAIL_PASSWORD = "bob-mail-pw-71"
SLACK_HOOK = "slackhooksecret71"
DISCORD_HOOK = "discordhooksecret71"


def test_contact_and_channel_credentials_never_reach_the_output(database_url: str) -> None:
    text = (
        example_config(database_url)
        .replace("mailto://bob@example.com", f"mailto://bob:{MAIL_PASSWORD}@mail.example.com")
        .replace('"slack:#backend-alerts"', f'"slack://TTEAM/BBOT/{SLACK_HOOK}"')
        .replace('"slack:#incidents"', f'"discord://4174216298/{DISCORD_HOOK}"')
    )
    settings = parse_config(text, {})
    body = am_payload("HighErrorRate", severity="critical", service="api")
    sim = run_simulation(settings, "alertmanager", body, {}, BEFORE_HANDOFF)
    assert sim.error is None
    shown = render_text(sim) + render_json(sim)
    for secret in (MAIL_PASSWORD, SLACK_HOOK, DISCORD_HOOK):
        assert secret not in shown
    rendered = render_text(sim)
    assert "mailto://***@mail.example.com" in rendered  # bob, reached at step 1 or 2
    assert "slack://***/***" in rendered  # the backend team's channel
    assert "discord://***/***" in rendered  # the route's channel
    assert json.loads(render_json(sim))["alerts"]
