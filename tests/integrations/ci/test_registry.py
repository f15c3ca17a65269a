"""The CI backends' registry and their connection types in the one connection registry;
the issue's connections load as written."""

from __future__ import annotations

from datetime import timedelta

from bot.config import parse_config
from integrations.ci import CI_BACKENDS
from integrations.ci.github import GitHubConnection
from integrations.ci.gitlab import GitLabConnection
from integrations.ci.jenkins import JenkinsConnection
from integrations.ci.webhook import WebhookConnection
from integrations.connections import CONNECTION_TYPES, connection_type
from integrations.logs import LOG_BACKENDS

ISSUE_CONNECTIONS = """
connections:
  github: {type: github, url: "https://api.github.com", token: "${GITHUB_TOKEN}", poll_interval: 10s}
  gitlab: {type: gitlab, url: "https://gitlab.example.com", project: "acme/api", trigger_token: "${GITLAB_TRIGGER_TOKEN}", api_token: "${GITLAB_API_TOKEN}"}
  jenkins: {type: jenkins, url: "https://jenkins.example.com", user: firebell, api_token: "${JENKINS_API_TOKEN}"}
  deployhook: {type: webhook, url: "https://deploy.example.com/firebell", secret: "${DEPLOY_HOOK_SECRET}"}
"""  # noqa: E501 - the issue's lines, verbatim
ENV = {
    "GITHUB_TOKEN": "ghp_x",
    "GITLAB_TRIGGER_TOKEN": "glptt-x",
    "GITLAB_API_TOKEN": "glpat-x",
    "JENKINS_API_TOKEN": "jt-x",
    "DEPLOY_HOOK_SECRET": "hook-x",
}


def test_every_backend_registers_its_connection_type() -> None:
    assert sorted(CI_BACKENDS) == ["github", "gitlab", "jenkins", "webhook"]
    for name, backend in CI_BACKENDS.items():
        assert connection_type(backend.connection_model) == name
        assert CONNECTION_TYPES[name] is backend.connection_model
    log_types = {connection_type(b.connection_model) for b in LOG_BACKENDS.values()}
    assert set(CONNECTION_TYPES) == {
        *log_types,
        *CI_BACKENDS,
    }


def test_the_issues_connections_load() -> None:
    connections = parse_config(ISSUE_CONNECTIONS, ENV).connections
    github, gitlab = connections["github"], connections["gitlab"]
    jenkins, hook = connections["jenkins"], connections["deployhook"]
    assert isinstance(github, GitHubConnection) and github.token == "ghp_x"
    assert isinstance(gitlab, GitLabConnection) and gitlab.project == "acme/api"
    assert isinstance(jenkins, JenkinsConnection) and jenkins.user == "firebell"
    assert isinstance(hook, WebhookConnection) and hook.secret == "hook-x"
    for connection in (github, gitlab, jenkins, hook):
        assert connection.poll_interval == timedelta(seconds=10)
