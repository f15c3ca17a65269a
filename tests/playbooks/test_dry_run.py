"""Dry-runs without a database: every step rendered and planned against an incident,
"known when run" for what only a run learns, nothing sent; with reads, only reads."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from integrations.outbound import Outbound
from playbooks.dry_run import (
    KNOWN,
    SHOWN_CHARS,
    perform_reads,
    plan_steps,
    reads_run_time_names,
    request_line,
)
from playbooks.outputs import Redactor
from tests.playbooks.surface_support import (
    API_5XX,
    ES_API_KEY,
    LOKI_ONLY,
    LOKI_TOKEN,
    SENTRY_TOKEN,
    catalog_for,
    far_sides,
    incident,
    write_playbooks,
)

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
NOW_NS = 1_796_553_000 * 10**9


def test_every_step_shows_its_exact_request_and_nothing_is_sent(tmp_path: Path) -> None:
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "pb", API_5XX), sides)
        playbook = catalog.playbooks["api-5xx"]
        plans = plan_steps(playbook, catalog, incident(), {"window": "1h"}, "alice", NOW)
        shown = {plan.id: plan.shown() for plan in plans}

        loki = shown["loki"]["request"]
        assert (loki["method"], shown["loki"]["effect"], shown["loki"]["if"]) == (
            "GET",
            "read",
            None,
        )
        url = urlsplit(loki["url"])
        assert f"{url.scheme}://{url.netloc}" == sides.loki.base_url
        assert url.path == "/loki/api/v1/query_range"
        query = parse_qs(url.query)
        assert query["query"] == ['{app="api"} |= "error"']
        # The param's 1h, not the default 30m: start is an hour before end.
        assert int(query["end"][0]) - int(query["start"][0]) == 3600 * 10**9
        assert int(query["end"][0]) == NOW_NS
        assert loki["headers"]["Authorization"] == "***"
        everything = json.dumps([s.shown() for s in plans])
        assert all(secret not in everything for secret in (LOKI_TOKEN, ES_API_KEY, SENTRY_TOKEN))

        es = shown["es"]["request"]
        assert es["method"] == "POST" and es["url"].startswith(sides.es.base_url + "/logs-")
        assert es["headers"]["Authorization"] == "***"
        assert {"term": {"service.name": "api"}} in es["body"]["query"]["bool"]["filter"]

        assert shown["file"]["request"]["file"] == "/var/log/api/app.log"
        argv = shown["journal"]["request"]["argv"]
        assert argv[0].endswith("journalctl") and "api.service" in argv

        # No sentry_issue_id on this incident: the step would be skipped, and says why.
        assert (shown["sentry"]["if"], shown["sentry"]["request"]) == (False, None)
        assert "skipped" in shown["sentry"]["note"]
        # The report posts the run's summary: only a run knows it.
        report = shown["report"]
        assert (report["effect"], report["request"]["method"]) == ("write", "chat")
        assert report["request"]["text"] == f"<{KNOWN}>"
        assert sides.requests() == 0


def test_a_sentry_incident_plans_the_sentry_read(tmp_path: Path) -> None:
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "pb", API_5XX), sides)
        plans = plan_steps(
            catalog.playbooks["api-5xx"],
            catalog,
            incident(sentry_issue_id="4242"),
            {"window": "30m"},
            "bob",
            NOW,
        )
        sentry = next(plan for plan in plans if plan.id == "sentry")
        assert sentry.condition is True
        assert sentry.request is not None and "/issues/4242/" in sentry.request["url"]
        assert sides.requests() == 0


def test_conditions_and_values_from_earlier_steps_are_known_when_run(tmp_path: Path) -> None:
    assert reads_run_time_names("steps.loki.count > 0")
    assert reads_run_time_names("steps.loki is defined")  # the placeholder would say True
    assert not reads_run_time_names("incident.labels.service == 'api'")
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "pb", LOKI_ONLY), sides)
        plans = plan_steps(catalog.playbooks["loki-only"], catalog, incident(), {}, "alice", NOW)
        again, report = plans[1].shown(), plans[2].shown()
        assert again["if"] == KNOWN and again["request"] is not None
        assert "when run" in again["note"]
        assert report["request"]["text"] == f"loki said <{KNOWN}>"


def test_with_reads_runs_only_the_reads_it_can_and_counts_them(tmp_path: Path) -> None:
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "pb", LOKI_ONLY), sides)
        playbook = catalog.playbooks["loki-only"]
        plans = plan_steps(playbook, catalog, incident(), {}, "alice", NOW)

        async def go() -> int:
            outbound = Outbound()
            try:
                return await perform_reads(plans, playbook, outbound, Redactor([LOKI_TOKEN]))
            finally:
                await outbound.aclose()

        sent = asyncio.run(go())
        # The first Loki read ran; the second waits on its outcome; chat.post is a write.
        assert sent == 1 and len(sides.loki.requests) == 1
        request = sides.loki.requests[0]
        assert request.headers["authorization"] == f"Bearer {LOKI_TOKEN}"
        first, again, report = (plan.shown() for plan in plans)
        assert first["result"] == "1 line" and "error: boom" in first["excerpt"]
        assert again["result"].startswith("not read")
        assert "result" not in report


OUTSIDE = """\
id: outside
steps:
  - {id: passwd, uses: logs.file, with: {connection: applogs, path: /etc/passwd}}
  - {id: journal, uses: logs.journald, with: {connection: journal, unit: "{{ incident.title }}"}}
"""


def test_a_step_that_cannot_be_planned_says_why(tmp_path: Path) -> None:
    with far_sides() as sides:
        catalog = catalog_for(write_playbooks(tmp_path / "pb", OUTSIDE), sides)
        plans = plan_steps(catalog.playbooks["outside"], catalog, incident(), {}, "alice", NOW)
        passwd, journal = (plan.shown() for plan in plans)
        assert passwd["request"] is None
        assert passwd["note"].startswith("cannot be planned: path /etc/passwd does not match")
        # A unit name from an alert's title is refused by the action's own model.
        assert journal["request"] is None and journal["note"].startswith("with.unit:")


def test_a_planned_request_on_one_line_names_what_it_would_send() -> None:
    url = "https://es.example/logs-*/_search"
    long_query = {"query": {"match": {"message": "x" * 400}}}
    line = request_line({"method": "POST", "url": url, "headers": {}, "body": long_query})
    assert line is not None and line.startswith(f"POST {url} body {{")
    assert line.endswith("…") and len(line) == len(f"POST {url} body ") + SHOWN_CHARS
    assert request_line({"method": "GET", "url": url, "body": None}) == f"GET {url}"
    assert request_line({"argv": ["journalctl", "-u", "api.service"]}) == (
        "journalctl -u api.service"
    )
    assert request_line({"file": "/var/log/api/app.log"}) == "read /var/log/api/app.log"
    assert request_line({"method": "chat", "text": "3 errors"}) == (
        "post in the incident thread: 3 errors"
    )
    assert request_line(None) is None and request_line({}) is None
