"""Fixtures for the browser tests: one Chromium per session, a fresh context per page
(console errors fail the test; a failed test leaves a screenshot in build/test-artifacts),
and a real `firebell serve` on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.browser_support import (
    CHROMIUM_ARGS,
    artifact_path,
    chromium_path,
    no_browser,
)

try:  # the test extras install it; without them the browser tests cannot run
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser.pages import PageFactory
    from tests.browser.world import World


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        no_browser("playwright is not installed (make install-test)")
    path = chromium_path()
    if path is None:
        no_browser("no chromium on this machine")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[PageFactory]:
    from tests.browser.pages import PageFactory

    factory = PageFactory(browser)
    yield factory
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        for index, page in enumerate(factory.pages):
            if not page.is_closed():
                shot = artifact_path(request.node.nodeid, f"-{index}.png")
                page.screenshot(path=shot, full_page=True)
    for context in factory.contexts:
        context.close()
    errors = factory.unexpected()
    assert not errors, "the page logged errors:\n" + "\n".join(errors)


@pytest.fixture(scope="package")
def world(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One `firebell serve` for the browser tests (each makes incidents of its own)."""
    from tests.browser.world import running_world

    with running_world(tmp_path_factory.mktemp("web")) as running:
        yield running
