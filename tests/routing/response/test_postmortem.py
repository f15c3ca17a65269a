"""The postmortem document and its Markdown (pure). Parsed back with a CommonMark + GFM
table parser (markdown-it-py), any text in titles, labels, notes, names and outputs
stays inside its heading, table cell or code block; configured secrets never appear."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from routing.response.postmortem import (
    ACTIONS_PROMPT,
    CAUSES_PROMPT,
    build_postmortem,
    render_markdown,
)
from routing.response.postmortem_markdown import human_duration, md_code_block, md_inline

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PARSER = MarkdownIt("commonmark").enable("table")


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def incident(title: str = "HighErrorRate on api", **texts: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "title": title,
        "status": "resolved",
        "severity": "critical",
        "service": texts.get("service", "api"),
        "alert_count": 1,
        "created_at": iso(0),
        "acknowledged_at": iso(4),
        "acknowledged_by": "alice",
        "resolved_at": iso(62),
        "resolved_by": "bob",
        "alerts": [
            {
                "fingerprint": "ab" * 8,
                "title": texts.get("alert", "5xx > 2%"),
                "source": "alertmanager",
                "severity": "critical",
                "service": "api",
                "status": "resolved",
                "occurrences": 12,
                "first_seen": iso(-3),
                "last_seen": iso(30),
                "labels": {texts.get("label_key", "pod"): texts.get("label", "api-1")},
                "flapping": False,
            }
        ],
        "timeline": [
            {"at": iso(0), "kind": "created", "actor": "firebell", "message": "opened"},
            {"at": iso(4), "kind": "acknowledged", "actor": "alice", "message": "acked"},
            {
                "at": iso(10),
                "kind": "note",
                "actor": texts.get("actor", "carol"),
                "message": texts.get("note", "rolled back"),
            },
            {"at": iso(62), "kind": "resolved", "actor": "bob", "message": "resolved by bob"},
        ],
    }


def runs(comment: str = "lgtm", excerpt: str = "5xx: 0.1%", playbook: str = "deploy") -> list:
    at = T0 + timedelta(minutes=20)
    return [
        {
            "id": 3,
            "playbook": playbook,
            "status": "succeeded",
            "trigger": "manual",
            "started_by": "alice",
            "created_at": at,
            "finished_at": at + timedelta(minutes=2),
            "steps": [
                {
                    "step_id": "hotfix",
                    "uses": "chat.post",
                    "status": "succeeded",
                    "started_at": at,
                    "finished_at": at + timedelta(minutes=2),
                    "summary": "posted",
                    "error": "",
                    "excerpt": excerpt,
                }
            ],
            "approvals": [
                {
                    "step_id": "hotfix",
                    "approver": "bob",
                    "decision": "approved",
                    "surface": "api",
                    "at": at + timedelta(minutes=1),
                    "comment": comment,
                },
            ],
        }
    ]


PAGES = [
    {
        "recipient": "alice",
        "via": "schedule:primary",
        "step": "step 1 of 2",
        "status": "sent",
        "created_at": T0,
        "sent_at": T0 + timedelta(seconds=2),
        "address": "mailto://alice:pw@mail.example.com",  # a caller passing too much
    }
]


def doc_of(inc: dict[str, Any], run_list: list | None = None, **kw: Any) -> dict[str, Any]:
    return build_postmortem(
        inc, PAGES, runs() if run_list is None else run_list, now=T0 + timedelta(days=1), **kw
    )


def test_the_document_has_every_part() -> None:
    doc = doc_of(incident(), link="https://fb.example.com/incidents/7")
    assert doc["title"] == "Postmortem: incident #7: HighErrorRate on api"
    # The impact starts at the first alert, three minutes before the incident opened.
    assert doc["impact"] == {
        "start": iso(-3), "end": iso(62), "duration_s": 65 * 60.0, "ongoing": False
    }  # fmt: skip
    assert doc["figures"] == {"tta_s": 240.0, "ttr_s": 62 * 60.0}
    assert doc["summary"] == (
        "A critical incident on api: 1 alert from alertmanager, opened 2026-12-01 10:00 UTC, "
        "acknowledged by alice after 4m, resolved by bob after 1h 2m."
    )
    assert doc["paged"] == [
        {"recipient": "alice", "via": "schedule:primary", "step": "step 1 of 2",
         "status": "sent", "queued_at": T0.isoformat(), "sent_at": iso(2 / 60)},
    ]  # fmt: skip
    assert [(p["person"], [a["kind"] for a in p["actions"]]) for p in doc["acted"]] == [
        ("alice", ["acknowledged"]), ("carol", ["note"]), ("bob", ["resolved"]),
    ]  # fmt: skip
    (run,) = doc["playbook_runs"]
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("hotfix", "succeeded")]
    assert [(a["approver"], a["decision"]) for a in run["approvals"]] == [("bob", "approved")]
    assert len(doc["timeline"]) == 4 and doc["timeline_omitted"] == 0
    assert (doc["causes"], doc["actions"]) == (CAUSES_PROMPT, ACTIONS_PROMPT)

    text = render_markdown(doc)
    assert "mailto" not in text and "pw@" not in json.dumps(doc)
    for heading in ("## Summary", "## Impact window", "## Who was paged", "## Who acted",
                    "## Playbook runs and approvals", "## Timeline", "## Causes",
                    "## Actions"):  # fmt: skip
        assert f"\n{heading}\n" in text
    assert "- **Time to acknowledge (MTTA):** 4m by alice" in text
    assert "- **Time to resolve (MTTR):** 1h 2m by bob" in text
    assert "- **Incident page:** <https://fb.example.com/incidents/7>" in text
    assert "| 2026-12-01 10:10:00 UTC | note | carol | rolled back |" in text


def test_an_open_incident_is_ongoing_with_no_mttr() -> None:
    inc = incident() | {"status": "acknowledged", "resolved_at": None, "resolved_by": None}
    doc = doc_of(inc, [])
    assert doc["impact"]["ongoing"] and doc["impact"]["end"] is None
    assert doc["figures"]["ttr_s"] is None
    text = render_markdown(doc)
    assert "to the resolution, ongoing." in text
    assert "- **Time to resolve (MTTR):** -\n" in text
    assert "No playbook ran." in text


def test_secrets_are_scrubbed_everywhere_and_before_the_cut() -> None:
    secret = "s3cr3t-token-value"
    long_excerpt = "x" * 3990 + secret  # across the 4000 character cut
    inc = incident(note=f"token={secret}", alert=f"auth {secret}")
    doc = doc_of(inc, runs(excerpt=long_excerpt, comment=secret), secrets=[secret, ""])
    dumped = json.dumps(doc)
    assert secret[:6] not in dumped and secret not in render_markdown(doc)
    assert "token=***" in dumped


def test_long_timelines_say_how_many_entries_are_not_shown() -> None:
    from routing.response import postmortem

    inc = incident()
    inc["timeline"] = inc["timeline"] * 3
    original = postmortem.MAX_TIMELINE
    postmortem.MAX_TIMELINE = 5
    try:
        doc = doc_of(inc)
    finally:
        postmortem.MAX_TIMELINE = original
    assert (len(doc["timeline"]), doc["timeline_omitted"]) == (5, 7)
    assert "7 later entries are not shown." in render_markdown(doc)


def test_durations_read_as_people_say_them() -> None:
    assert [human_duration(s) for s in (None, 0, 59.6, 3600, 90061)] == [
        "-", "0s", "1m", "1h", "1d 1h 1m 1s"
    ]  # fmt: skip


# ---- escaping, checked by parsing the Markdown back --------------------------------------


def plain(token: Token) -> str:
    """An inline token's text as rendered; fails on any markup (emphasis, link, HTML,
    code) that the text would have created."""
    children = token.children or []
    assert {c.type for c in children} <= {"text", "text_special"}, children
    return "".join(c.content for c in children)


def norm(text: str) -> str:
    """What a renderer shows of text: whitespace collapsed; NUL is U+FFFD in CommonMark."""
    return " ".join(text.replace("\x00", "\ufffd").split())


def parsed(text: str) -> tuple[list[tuple[str, str]], list[list[str]], list[str]]:
    """(headings as (tag, text), table rows as cell texts, code blocks)."""
    tokens = PARSER.parse(text)
    headings, rows, blocks, row = [], [], [], None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            headings.append((token.tag, norm(plain(tokens[i + 1]))))
        elif token.type == "tr_open":
            row = []
        elif token.type in ("td_open", "th_open"):
            assert row is not None
            row.append(norm(plain(tokens[i + 1])))
        elif token.type == "tr_close":
            rows.append(row)
        elif token.type == "fence":
            blocks.append(token.content)
    return headings, rows, blocks


untrusted = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
) | st.sampled_from(
    ["# x", "a\n# b", "| c |", "x\r\n---\ny", "<script>", "[l](http://e)", "`", "```\n#", "\\",
     "a\u2028# b", "*x*", "&amp;", "x  \n", "1. y", "> q", "~~s~~", "![i](u)", "\t#"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    title=untrusted, alert=untrusted, label=untrusted, label_key=untrusted, note=untrusted,
    actor=untrusted, comment=untrusted, playbook=untrusted, excerpt=untrusted,
)  # fmt: skip
def test_no_text_makes_a_heading_breaks_a_row_or_adds_markup(
    title: str, alert: str, label: str, label_key: str, note: str, actor: str, comment: str,
    playbook: str, excerpt: str,
) -> None:  # fmt: skip
    inc = incident(title, alert=alert, label=label, label_key=label_key, note=note, actor=actor)
    doc = doc_of(inc, runs(comment=comment, excerpt=excerpt, playbook=playbook))
    headings, rows, blocks = parsed(render_markdown(doc))

    assert headings == [
        ("h1", norm(f"Postmortem: incident #7: {title}")),
        ("h2", "Summary"), ("h2", "Impact window"), ("h2", "Response"), ("h2", "Alerts"),
        ("h2", "Who was paged"), ("h2", "Who acted"), ("h2", "Playbook runs and approvals"),
        ("h3", norm(f"Run 3: {playbook} (succeeded)")),
        ("h2", "Timeline"), ("h2", "Causes"), ("h2", "Actions"),
    ]  # fmt: skip
    alerts_header, alert_row = rows[0], rows[1]
    assert len(alert_row) == len(alerts_header) == 8
    assert (alert_row[0], alert_row[7]) == (norm(alert), norm(f"{label_key}={label}"))
    timeline = rows[-5:]
    assert all(len(r) == 4 for r in timeline)
    assert timeline[3][2:] == [norm(actor), norm(note)]
    approvals = next(r for r in rows if r[:2] == ["hotfix", "approved"])
    assert len(approvals) == 6 and approvals[5] == norm(comment)
    if excerpt:
        shown = excerpt.replace("\r\n", "\n")
        for brk in "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029":
            shown = shown.replace(brk, "\n")
        assert blocks == [shown.rstrip("\n").replace("\x00", "\ufffd") + "\n"]


@given(st.text(max_size=60))
def test_inline_text_stays_on_one_line(text: str) -> None:
    assert len(md_inline(text).splitlines()) <= 1
    fenced = md_code_block(text)
    assert fenced.splitlines()[0].startswith("```")
