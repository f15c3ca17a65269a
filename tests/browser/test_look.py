"""How the pages look to people and to assistive technology: dark mode follows the
system, and axe-core finds no violation on any page in light or dark."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, World, login, settled, unique

BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                   "best-practice"]}}  # fmt: skip


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of an `rgb(r, g, b)` colour."""
    r, g, b = (int(n) / 255 for n in re.findall(r"\d+", css)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_colour_scheme_follows_the_system(
    world: World, new_page: PageFactory, scheme: str
) -> None:
    page = login(new_page(color_scheme=scheme), world.url, ALICE)
    shade = luminance(page.evaluate(BACKGROUND))
    text = luminance(page.evaluate("() => getComputedStyle(document.body).color"))
    if scheme == "dark":
        assert shade < 0.05 < 0.4 < text, (shade, text)
    else:
        assert text < 0.1 < 0.8 < shade, (shade, text)
    # Text only screen readers read stays out of sight on every page.
    page.goto(world.url + "/silences")
    hidden = page.locator(".visually-hidden").first
    expect(hidden).to_be_attached()
    box = hidden.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1, box


def violations(page: Page) -> str:
    settled(page)
    result = Axe().run(page, options=AXE_RULES)
    return "" if result.violations_count == 0 else result.generate_report()


@pytest.fixture(scope="module")
def shown(world: World) -> dict[str, str]:
    """Something on every page: an incident of the api service (playbooks, escalation), an
    acknowledged one, and a silence."""
    incident_id = world.post_alert(unique("Axe"), service="api")
    acked = world.post_alert(unique("AxeAcked"))
    assert world.api.post(f"/api/v1/incidents/{acked}/ack").status_code == 200
    body = {"matchers": [f'service="{unique("axe")}"'], "duration": "2h", "comment": "axe"}
    assert world.api.post("/api/v1/silences", json=body).status_code == 201
    return {"incident": f"/incidents/{incident_id}"}


PAGES = ["/", "incident", "/oncall", "/silences", "/reports", "/login"]


@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations_in_light_and_dark(
    world: World, new_page: PageFactory, shown: dict[str, str], path: str
) -> None:
    path = shown.get(path, path)
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme, reduced_motion="reduce")
        if path == "/login":
            page.goto(world.url + path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
            report = Axe().run(page, options=AXE_RULES)
            assert report.violations_count == 0, f"{scheme}:\n{report.generate_report()}"
            continue
        login(page, world.url, ALICE, path)
        found = violations(page)
        assert not found, f"{path} in {scheme}:\n{found}"
