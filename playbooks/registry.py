"""Every action a step's `uses:` may name, by name: one `logs.<backend>` per log backend
of integrations.logs, one `ci.<backend>` per CI backend of integrations.ci (ci.github,
ci.gitlab, ci.jenkins, ci.webhook), and `chat.post`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from integrations.ci import CI_BACKENDS
from integrations.logs import LOG_BACKENDS
from playbooks.action import Action
from playbooks.actions.chat import ChatPost
from playbooks.actions.ci import ci_action
from playbooks.actions.logs import log_action


def _build() -> dict[str, Action]:
    actions: dict[str, Action] = {}
    for backend in LOG_BACKENDS.values():
        action = log_action(backend)
        actions[action.name] = action
    for ci in CI_BACKENDS.values():
        remote = ci_action(ci)
        actions[remote.name] = remote
    chat = ChatPost()
    actions[chat.name] = chat
    return dict(sorted(actions.items()))


ACTIONS: Mapping[str, Action] = MappingProxyType(_build())


def action_for(name: str) -> Action | None:
    return ACTIONS.get(name)
