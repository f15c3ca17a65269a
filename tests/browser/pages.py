"""The page factory of the browser tests: each page in a context of its own, every console
error and uncaught exception recorded (the `new_page` fixture fails the test on them)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

from tests.browser.browser_support import TRACK_HTMX


class PageErrors:
    """Console errors and uncaught exceptions of every page a test opened."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Page) -> None:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.messages.append(f"console: {message.text}")

        def crashed(error: Error) -> None:
            self.messages.append(f"pageerror: {error}")

        page.on("console", console)
        page.on("pageerror", crashed)


class PageFactory:
    """`new_page(base_url=..., color_scheme="dark", java_script_enabled=False)`: a page in
    a context of its own (its own cookies). The test fails on any console error, except
    those it announced with `allow("...")` (e.g. the 401 of a deliberately wrong login)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []
        self.errors = PageErrors()
        self.allowed: list[str] = []

    def __call__(self, **options: Any) -> Page:
        context = self.browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.add_init_script(TRACK_HTMX)
        self.contexts.append(context)
        page = context.new_page()
        self.errors.watch(page)
        self.pages.append(page)
        return page

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [m for m in self.errors.messages if not any(a in m for a in self.allowed)]
