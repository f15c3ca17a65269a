"""Fixtures shared by the discord.py bot tests (test_discord_gateway, test_playbook_gateway)."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import pytest

from bot.chat.discord_gateway import use_api_url
from tests.bot.chat.test_discord_gateway import fake_discord
from tests.support.loopback_http import LoopbackServer, start


@pytest.fixture
def discord_api() -> Iterator[LoopbackServer]:
    """Discord's REST API on a loopback port, used by discord.py for this test."""
    before = discord.http.Route.BASE
    server = start(fake_discord)
    use_api_url(server.base_url)
    try:
        yield server
    finally:
        discord.http.Route.BASE = before
        server.close()
