"""CI backends: one module per CI, one registry of them.

`CI_BACKENDS` maps a backend's name (the action is `ci.<name>`, the connection type
`<name>`) to the backend. Adding a CI is one import and one entry here; its connection
type joins integrations.connections.CONNECTION_TYPES by itself.
"""

from __future__ import annotations

from integrations.ci.base import CiBackend, Dispatched, Polled, RemoteRun
from integrations.ci.github import GitHubBackend
from integrations.ci.gitlab import GitLabBackend
from integrations.ci.jenkins import JenkinsBackend
from integrations.ci.webhook import WebhookBackend

CI_BACKENDS: dict[str, CiBackend] = {
    backend.name: backend
    for backend in (GitHubBackend(), GitLabBackend(), JenkinsBackend(), WebhookBackend())
}

__all__ = ["CI_BACKENDS", "CiBackend", "Dispatched", "Polled", "RemoteRun"]
