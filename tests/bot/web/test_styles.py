"""The page's styles: one stylesheet (app.css) and nothing in it that takes text below
WCAG AA while a section refreshes."""

from __future__ import annotations

import re
from pathlib import Path

import bot.web

WEB = Path(bot.web.__file__).parent
CSS = (WEB / "static" / "app.css").read_text(encoding="utf-8")
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def rules() -> list[tuple[str, str]]:
    without_comments = re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)
    return [(sel.strip(), body) for sel, body in RULE.findall(without_comments)]


def test_a_request_in_flight_is_shown_without_dimming_the_text() -> None:
    busy = [body for sel, body in rules() if ".htmx-request" in sel]
    assert busy, "no .htmx-request indicator in app.css"
    for body in busy:
        assert "opacity" not in body and "filter" not in body and "color:" not in body, body


def test_templates_carry_no_style_elements_of_their_own() -> None:
    """Rules live in app.css (cached, shared, one place to check contrast)."""
    for template in sorted((WEB / "templates").rglob("*.html")):
        assert "<style" not in template.read_text(encoding="utf-8"), template.name
    assert any(sel == ".visually-hidden" for sel, _ in rules())
