"""What the page's dependencies and handlers raise; answered by handlers in bot.web."""

from __future__ import annotations


class LoginRequired(Exception):
    """No one is logged in: answered with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """A 4xx the page shows as an error banner (htmx: a fragment swapped into #flash)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
