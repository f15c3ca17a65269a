"""Every action a step's `uses:` may name, by name: one `logs.<backend>` per log backend
of integrations.logs, and `chat.post`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from integrations.logs import LOG_BACKENDS
from playbooks.action import Action
from playbooks.actions.chat import ChatPost
from playbooks.actions.logs import log_action


def _build() -> dict[str, Action]:
    actions: dict[str, Action] = {}
    for backend in LOG_BACKENDS.values():
        action = log_action(backend)
        actions[action.name] = action
    chat = ChatPost()
    actions[chat.name] = chat
    return dict(sorted(actions.items()))


ACTIONS: Mapping[str, Action] = MappingProxyType(_build())


def action_for(name: str) -> Action | None:
    return ACTIONS.get(name)
