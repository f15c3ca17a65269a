"""/oncall through a real `firebell serve`: who is on call, until when and the next
hand-offs, overrides marked, in the viewer's zone with UTC on hover, correct across the
European DST changes seen from New York; bad input named; contact URLs never shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from routing.oncall.board import oncall_board
from routing.oncall.schedule import Schedule
from tests.bot.web import served
from tests.bot.web.served import serving
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow

TOKENS = {"BOB_TOKEN": "bob-token-oncall-7c2d", "AM_TOKEN": "am-token-oncall-1e5f"}
CONTACT = "json://hook:s3cretpass@127.0.0.1:9/alice"
CONFIG = f"""\
database_url: {{database_url}}
api_tokens:
  - {{{{token: "${{{{BOB_TOKEN}}}}", user: bob}}}}
  - {{{{token: "${{{{AM_TOKEN}}}}", name: alertmanager}}}}
users:
  - {{{{name: alice, time_zone: Europe/Berlin, contacts: ["{CONTACT}"]}}}}
  - {{{{name: bob, time_zone: America/New_York, role: viewer, contacts: ["json://127.0.0.1:9/b"]}}}}
  - {{{{name: carol, contacts: ["json://127.0.0.1:9/c"]}}}}
schedules:
  - name: berlin
    time_zone: Europe/Berlin
    layers:
      - {{{{rotation: daily, handoff: "09:00", members: [alice, bob], start: 2026-03-01}}}}
    overrides:
      - {{{{user: carol, start: "2026-03-29T09:00", end: "2026-03-30T09:00"}}}}
"""
HANDOFF = re.compile(
    r'<tr data-handoff="([^"]+)"( data-override)?>\s*<td><time datetime="[^"]+" '
    r'title="([^"]+)">([^<]+)</time></td>\s*<td>(\w+)'
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # On-call is computed from the config: one database is enough.
    url = f"sqlite:///{tmp_path}/firebell.db"
    with serving(tmp_path, CONFIG.format(database_url=url), TOKENS, url) as proc:
        yield proc


def login(base_url: str) -> AbstractContextManager[httpx.Client]:
    return served.login(base_url, TOKENS["BOB_TOKEN"])


def handoffs(page: str) -> list[tuple[str, bool, str, str, str]]:
    """(UTC datetime attribute, override?, hover title, shown local time, user) per row."""
    return [
        (at, bool(ov), title, shown, user) for at, ov, title, shown, user in HANDOFF.findall(page)
    ]


def test_handoffs_across_both_dst_changes_in_the_viewers_zone(server: ServerProcess) -> None:
    with login(server.base_url) as http:
        # Friday before the last Sunday of March: Berlin goes CET -> CEST on Sunday 29th,
        # New York is already on EDT. A 09:00 Berlin hand-off moves from 04:00 to 03:00
        # in New York; the override (carol, Berlin wall times) is marked.
        spring = http.get("/oncall", params={"at": "2026-03-27T12:00:00Z"})
        assert spring.status_code == 200, spring.text
        assert handoffs(spring.text) == [
            ("2026-03-28T08:00:00Z", False, "2026-03-28 08:00 UTC", "2026-03-28 04:00 EDT", "bob"),
            ("2026-03-29T07:00:00Z", True, "2026-03-29 07:00 UTC", "2026-03-29 03:00 EDT", "carol"),
            ("2026-03-30T07:00:00Z", False, "2026-03-30 07:00 UTC", "2026-03-30 03:00 EDT", "bob"),
        ]  # fmt: skip
        # The form shows that instant as a datetime-local field takes it: New York wall time.
        assert 'name="at" value="2026-03-27T08:00"' in spring.text
        now_part = spring.text.split('class="oncall-now"', 1)[1].split("</p>", 1)[0]
        assert 'data-user="alice"' in now_part and "override" not in now_part
        assert 'until <time datetime="2026-03-28T08:00:00Z"' in now_part

        # Last Sunday of October: Berlin back to CET on the 25th, New York still on EDT
        # until November 1st: the hand-off moves from 03:00 to 04:00 in New York.
        autumn = http.get("/oncall", params={"at": "2026-10-23T12:00:00Z", "handoffs": "2"})
        assert [(at, shown) for at, _, _, shown, _ in handoffs(autumn.text)] == [
            ("2026-10-24T07:00:00Z", "2026-10-24 03:00 EDT"),
            ("2026-10-25T08:00:00Z", "2026-10-25 04:00 EDT"),
        ]

        # The page and GET /api/v1/oncall agree on every instant.
        api = httpx.get(
            server.base_url + "/api/v1/oncall",
            params={"at": "2026-03-27T12:00:00Z"},
            headers={"Authorization": f"Bearer {TOKENS['AM_TOKEN']}"},
        ).json()["items"][0]
        assert [(n["at"], n["user"]) for n in api["next"]] == [
            ("2026-03-28T08:00:00+00:00", "bob"),
            ("2026-03-29T07:00:00+00:00", "carol"),
            ("2026-03-30T07:00:00+00:00", "bob"),
        ]
        # A wall time without a zone is the viewer's own (New York): 08:00 EDT = 12:00Z.
        local = http.get("/oncall", params={"at": "2026-03-27T08:00"})
        assert 'data-at="2026-03-27T12:00:00Z"' in local.text
        assert 'name="at" value="2026-03-27T08:00"' in local.text
        assert handoffs(local.text) == handoffs(spring.text)


def test_live_section_bad_input_and_no_contact_urls(server: ServerProcess) -> None:
    assert httpx.get(server.base_url + "/oncall").status_code == 303  # log in first
    with login(server.base_url) as http:
        page = http.get("/oncall")
        assert page.status_code == 200
        assert "<h1>On call</h1>" in page.text and 'id="oncall"' in page.text
        assert 'hx-trigger="changed-oncall from:body, every ' in page.text
        assert "s3cretpass" not in page.text and "json://" not in page.text

        section = http.get("/oncall", params={"section": "oncall", "handoffs": "5"})
        assert section.status_code == 200
        assert section.text.lstrip().startswith('<section id="oncall"')
        assert len(handoffs(section.text)) == 5
        assert "handoffs=5" in section.text  # the refresh keeps the query

        for params, field in (
            ({"at": "next tuesday"}, "at"),
            ({"at": "9999-12-31T23:00:00Z"}, "at"),
            ({"handoffs": "500"}, "handoffs"),
            ({"handoffs": "-1"}, "handoffs"),
            ({"handoffs": "two"}, "handoffs"),
        ):
            bad = http.get("/oncall", params=params)
            assert bad.status_code == 422, (params, bad.text)
            assert 'role="alert"' in bad.text and f"{field}: " in bad.text
            assert "<h1>On call</h1>" in bad.text  # the page, with the form to fix it
            # Only a value a datetime-local field can hold is put back into it.
            assert 'name="at" value=""' in bad.text or field != "at"
        fragment = http.get("/oncall", params={"section": "oncall", "at": "nope"},
                            headers={"HX-Request": "true"})  # fmt: skip
        assert fragment.status_code == 422 and "at: " in fragment.text


def test_board_marks_overrides_and_until() -> None:
    """The pure board: an override now is marked, `until` is the next change even when
    no hand-off is listed."""
    from datetime import UTC, datetime

    schedule = Schedule.model_validate(
        {
            "name": "s",
            "time_zone": "Europe/Berlin",
            "layers": [{"rotation": "weekly", "handoff": "mon 09:00", "members": ["a", "b"]}],
            "overrides": [{"user": "c", "start": "2026-03-29T09:00", "end": "2026-03-29T18:00"}],
        }
    )
    (board,) = oncall_board([schedule], datetime(2026, 3, 29, 10, tzinfo=UTC), 0)
    assert (board.oncall, board.override, board.next) == (["c"], True, [])
    assert board.until == datetime(2026, 3, 29, 16, tzinfo=UTC)  # 18:00 CEST
