"""The browser itself: Debian's Chromium starts under Playwright and renders a page."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page


def test_chromium_renders_a_page(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<!doctype html><html lang=en><title>t</title><main><h1>firebell</h1></main>")
    assert page.get_by_role("heading", level=1).inner_text() == "firebell"
