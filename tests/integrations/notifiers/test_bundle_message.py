"""A pager-storm bundle's text: the count, the highest severity, a line per incident with
its severity, service, title and link, and a bound on its size however many it lists."""

from __future__ import annotations

import pytest

from integrations.notifiers.bundle_message import (
    BundledIncident,
    bundle_message,
    bundled_incidents,
)
from integrations.notifiers.message import MAX_SUMMARY_LINES, SUMMARY_LINE_LIMIT
from routing.intake.alert import Severity

PUBLIC = "https://firebell.example.org"


def test_count_highest_severity_titles_and_links() -> None:
    incidents = bundled_incidents(
        {
            "incidents": [
                {"id": 7, "title": "Disk  full\non db-1", "severity": "warning", "service": "db"},
                {"id": 9, "title": "API 5xx", "severity": "error", "service": "checkout"},
                {"id": 12, "title": "Queue lag", "severity": "info", "service": None},
            ]
        }
    )
    message = bundle_message(incidents, "alice", PUBLIC, "/incident")
    assert message.title == "[ERROR] 3 incidents paged together"
    lines = message.text.splitlines()
    assert lines[0] == "3 new incidents for alice in a pager storm, highest severity error:"
    assert lines[1:4] == [
        f"- #7 [WARNING] db: Disk full on db-1 {PUBLIC}/incidents/7",
        f"- #9 [ERROR] checkout: API 5xx {PUBLIC}/incidents/9",
        f"- #12 [INFO] Queue lag {PUBLIC}/incidents/12",
    ]
    assert lines[-1] == (
        f"To acknowledge each: /incident ack ID or POST {PUBLIC}/api/v1/incidents/ID/ack"
    )


def test_the_text_is_bounded_however_many_incidents_and_however_long_their_titles() -> None:
    incidents = [
        BundledIncident(i, "x" * 5000, Severity.CRITICAL if i == 400 else Severity.INFO, "svc")
        for i in range(1, 501)
    ]
    message = bundle_message(incidents, "alice", PUBLIC, None)
    assert message.title == "[CRITICAL] 500 incidents paged together"  # counted past the list
    lines = message.text.splitlines()
    listed = [line for line in lines if line.startswith("- #")]
    assert len(listed) == MAX_SUMMARY_LINES
    assert f"- … and {500 - MAX_SUMMARY_LINES} more" in lines
    link = len(f" {PUBLIC}/incidents/500")
    assert all(len(line) <= SUMMARY_LINE_LIMIT + link for line in listed)
    assert len(message.text) < (MAX_SUMMARY_LINES + 4) * (SUMMARY_LINE_LIMIT + link)
    assert lines[-1] == f"To acknowledge each: POST {PUBLIC}/api/v1/incidents/ID/ack"


@pytest.mark.parametrize(
    "payload",
    [{}, {"incidents": []}, {"incidents": "x"}, {"incidents": [{"id": 1, "title": "t"}]}],
)
def test_a_malformed_bundle_payload_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        bundled_incidents(payload)
