"""The source registry contract, and every captured real payload parsing cleanly.

The captured payloads live outside the repository (../shared/fixtures); that part
is skipped when the folder is absent.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import orjson
import pytest

from integrations.sources import SOURCES, ParseResult, SourceOptions
from integrations.sources.nginx_line import parse_error_line
from integrations.sources.nginx_template import message_template
from routing.intake.alert import AlertStatus
from tests.support.paths import SHARED_FIXTURES as SHARED

SHARED_FIXTURES = SHARED
NO_OPTIONS = SourceOptions()
needs_fixtures = pytest.mark.skipif(
    not SHARED_FIXTURES.is_dir(), reason="../shared/fixtures is not present"
)


def test_registry_names_match_and_sources_are_pure_parsers() -> None:
    assert set(SOURCES) == {"alertmanager", "sentry", "sentry-legacy", "nginx", "generic"}
    for name, source in SOURCES.items():
        assert source.name == name
        parameters = list(inspect.signature(source.parse).parameters)
        assert parameters == ["body", "headers", "options"]


def fixture_files(folder: str) -> list[Path]:
    """Payload files of one folder: not the provenance notes nor captured headers."""
    directory = SHARED_FIXTURES / folder
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and path.suffix not in {".md", ".txt"} and "headers" not in path.name
    )


def ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


AM_FILES = fixture_files("alertmanager")
SENTRY_FILES = fixture_files("sentry")
NGINX_FILES = fixture_files("nginx")


def check_result(result: ParseResult, source_name: str) -> None:
    for alert in result.alerts:
        assert alert.source == source_name
        assert alert.labels["service"] == alert.service
        assert alert.title
        for moment in (alert.starts_at, alert.ends_at):
            assert moment is None or moment.utcoffset() is not None


@needs_fixtures
@pytest.mark.parametrize("path", AM_FILES, ids=ids(AM_FILES))
def test_alertmanager_fixture(path: Path) -> None:
    body = path.read_bytes()
    result = SOURCES["alertmanager"].parse(body, {"content-type": "application/json"}, NO_OPTIONS)
    assert len(result.alerts) == len(orjson.loads(body)["alerts"])
    check_result(result, "alertmanager")


def sentry_resource(payload: dict[str, Any]) -> str:
    """The Sentry-Hook-Resource a payload was sent with, read from its `data`."""
    data = payload["data"]
    for key, resource in (
        ("issue", "issue"),
        ("event", "event_alert"),
        ("metric_alert", "metric_alert"),
        ("error", "error"),
        ("installation", "installation"),
        ("comment", "comment"),
    ):
        if key in data:
            return resource
    raise AssertionError(f"unknown Sentry resource in {sorted(data)}")


@needs_fixtures
@pytest.mark.parametrize("path", SENTRY_FILES, ids=ids(SENTRY_FILES))
def test_sentry_fixture(path: Path) -> None:
    body = path.read_bytes()
    payload = orjson.loads(body)
    if "data" not in payload:  # the legacy WebHooks plugin: no envelope, no headers
        result = SOURCES["sentry-legacy"].parse(body, {}, NO_OPTIONS)
        assert len(result.alerts) == 1
        check_result(result, "sentry-legacy")
        return
    resource = sentry_resource(payload)
    assert resource in path.name  # the file name agrees with the content
    result = SOURCES["sentry"].parse(body, {"sentry-hook-resource": resource}, NO_OPTIONS)
    if resource in {"installation", "comment"}:
        assert (
            result.alerts == [] and result.note == f"recorded sentry {resource}.{payload['action']}"
        )
    else:
        assert len(result.alerts) == 1
        assert "alertname" not in result.alerts[0].labels
    check_result(result, "sentry")


@needs_fixtures
def test_sentry_captured_header_shape() -> None:
    """The real capture's headers (lowercase keys) drive the parser as they are."""
    headers_path = SHARED_FIXTURES / "sentry" / "request_headers_captured_sentry_22.7.0.json"
    body_path = SHARED_FIXTURES / "sentry" / "docs_error_created.json"
    if not (headers_path.is_file() and body_path.is_file()):
        pytest.skip("captured Sentry headers or error body not present")
    headers = orjson.loads(headers_path.read_bytes())
    result = SOURCES["sentry"].parse(body_path.read_bytes(), headers, NO_OPTIONS)
    assert len(result.alerts) == 1


@needs_fixtures
@pytest.mark.parametrize("path", NGINX_FILES, ids=ids(NGINX_FILES))
def test_nginx_fixture(path: Path) -> None:
    body = path.read_bytes()
    lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    result = SOURCES["nginx"].parse(body, {"content-type": "text/plain"}, NO_OPTIONS)
    if path.name.startswith("access"):
        assert (result.alerts, result.unparsed) == ([], len(lines))  # never silently dropped
    else:
        assert (len(result.alerts), result.unparsed) == (len(lines), 0)
    assert all(alert.status is AlertStatus.FIRING for alert in result.alerts)
    check_result(result, "nginx")


@needs_fixtures
def test_nginx_fixture_errno_variants_share_a_template() -> None:
    path = SHARED_FIXTURES / "nginx" / "error_upstream.log"
    if not path.is_file():
        pytest.skip("error_upstream.log not present")
    templates = set()
    for line in path.read_text().splitlines():
        parsed = parse_error_line(line)
        assert parsed is not None
        if parsed.message.startswith("upstream timed out (110:"):
            templates.add(message_template(parsed.message))
    assert templates == {"upstream timed out (110: Connection timed out)"}
