"""Wires the chat surfaces into a process: the message sync, and the Slack and Discord
HTTP endpoints for the roles that serve HTTP.

The composition root (bot.roles) calls `install_chat(rt)` after `install_paging`, so the
outbox hooks exist, and mounts `chat_routers(rt)` on the HTTP app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter

from bot.chat.approval_chat import ApprovalChat
from bot.chat.context import link_settings
from bot.chat.playbook_progress import PlaybookProgress
from bot.chat.sync import Background, ChatSync
from bot.runtime.state import Runtime
from integrations.notifiers import Notifier

if TYPE_CHECKING:
    from bot.chat.slack import SlackSurface


@dataclass
class Chat:
    """What install_chat added (kept in rt.extras["chat"])."""

    sync: ChatSync
    background: Background
    progress: PlaybookProgress
    approvals: ApprovalChat
    slack: SlackSurface | None = None


def install_chat(rt: Runtime, *, notifiers: Mapping[str, Notifier] | None = None) -> Chat:
    """Keep posted messages in step with incidents, whatever this process changes.

    `notifiers` replaces the Slack/Discord notifiers built from the config (tests).
    """
    background = Background()
    sync = ChatSync(rt, link_settings(rt), background, notifiers)
    progress = PlaybookProgress(rt, sync)
    approvals = ApprovalChat(rt, sync)
    chat = Chat(sync, background, progress, approvals)
    rt.extras.setdefault("incident_changed", []).append(sync.incident_changed)
    rt.intake.committed.append(sync.committed_hook)
    rt.extras["chat"] = chat
    # Read by install_playbooks (which runs after this): the runner's hooks into chat.
    rt.extras["playbook_progress"] = lambda run_id: _run_changed(chat, run_id)
    rt.extras["playbook_post_chat"] = progress.post_chat

    # Stopped after the sync has drained (services stop in reverse): no look-again is left.
    rt.lifecycle.add_service(_nothing, progress.stop)
    rt.lifecycle.add_service(sync.start, sync.stop)
    return chat


async def _nothing() -> None:
    pass


def _run_changed(chat: Chat, run_id: int) -> None:
    """A run changed: its progress reply, and its approval requests (bot.chat.approval_chat)."""
    chat.progress.run_changed(run_id)
    chat.approvals.run_changed(run_id)


def slack_surface(rt: Runtime) -> SlackSurface:
    """The Slack app, built for the roles that serve it: HTTP (`/slack/events`) and
    `firebell slack-socket` (the same Bolt app over Socket Mode)."""
    chat: Chat = rt.extras["chat"]
    if chat.slack is None:
        from bot.chat.slack import SlackSurface

        chat.slack = SlackSurface(rt, chat.background)
    return chat.slack


def chat_routers(rt: Runtime) -> list[APIRouter]:
    """`POST /slack/events` and `POST /discord/interactions`, for the configured surfaces."""
    routers = []
    if rt.settings.slack is not None:
        routers.append(slack_surface(rt).router())
    if rt.settings.discord is not None:
        from bot.chat.discord_http import router as discord_router

        routers.append(discord_router(rt.settings.discord.public_key))
    return routers
