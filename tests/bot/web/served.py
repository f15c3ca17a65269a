"""A real `firebell serve` for the page tests, and a browser-like client logged in with
a person's token (session cookie, same-origin headers as a browser sends them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server_process import ServerProcess

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# alice acts, carol (a viewer under `users:`) looks, Alertmanager posts alerts and reads.
TOKENS = {
    "ALICE_TOKEN": "alice-token-web-4f1b",
    "CAROL_TOKEN": "carol-token-web-9d8e",
    "AM_TOKEN": "am-token-web-0a1b",
}
ACCESS = """\
api_tokens:
  - {token: "${ALICE_TOKEN}", user: alice}
  - {token: "${CAROL_TOKEN}", user: carol}
  - {token: "${AM_TOKEN}", name: alertmanager}
"""


def config(database_url: str, rest: str) -> str:
    """A config with that database, the three TOKENS, and `rest` (users: and so on)."""
    return f"database_url: {database_url}\n{ACCESS}{rest}"


@contextmanager
def serving(
    tmp_path: Path, config: str, env: dict[str, str], database_url: str
) -> Iterator[ServerProcess]:
    """The server on that config (PostgreSQL migrated first; SQLite migrates itself)."""
    proc = ServerProcess(tmp_path, config, env=env)
    if not database_url.startswith("sqlite"):
        result = proc.cli("db", "upgrade")
        assert result.returncode == 0, result.stderr
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def login(base_url: str, token: str) -> Iterator[httpx.Client]:
    headers = {"Origin": base_url, "Sec-Fetch-Site": "same-origin"}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        answer = http.post("/login", data={"token": token})
        assert answer.status_code == 303, answer.text
        assert "firebell_session" in http.cookies
        yield http


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF field on the page"
    return found.group(1)
