"""The README's own words about contacts, run as written: its receiver snippet verifies a
real signed page (and refuses a wrong secret, a changed body, an old timestamp), and its
contacts and bundling YAML examples pass `firebell check-config`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.roles import create_app
from bot.workers.paging_worker import install_paging
from tests.support.paging import Clock, am_payload, settings_from
from tests.support.raw_http import RawSink

README = (Path(__file__).parents[3] / "README.md").read_text()
SECRET = "readme-secret-5"


def _block_after(marker: str, language: str) -> str:
    """The first ```language block after `marker` in the README."""
    start = README.index(marker)
    found = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert found is not None, f"no {language} block after {marker!r}"
    return found.group(1)


def _readme_verified() -> Callable[[bytes, Any, bytes], bool]:
    namespace: dict[str, Any] = {}
    exec(_block_after("**Signed webhooks**", "python"), namespace)
    verified: Callable[[bytes, Any, bytes], bool] = namespace["verified"]
    return verified


def test_the_readme_snippet_verifies_a_real_signed_page(database_url: str) -> None:
    verified = _readme_verified()
    clock = Clock()
    with RawSink() as sink:
        settings = settings_from(
            f"""
database_url: "{database_url}"
users:
  - name: alice
    contacts:
      - {{url: "http://127.0.0.1:{sink.port}/page", type: webhook, secret: "{SECRET}"}}
escalation_policies:
  - {{name: ops, steps: [{{notify: ["user:alice"], wait: 5m}}]}}
route: {{receiver: {{escalation: ops}}}}
"""
        )
        app = create_app(settings, clock=clock)
        worker = install_paging(app.state.runtime, background=False)  # the real notifiers
        with TestClient(app) as client:
            client.post(
                "/webhooks/alertmanager",
                content=am_payload(),
                headers={"content-type": "application/json"},
            )
            client.portal.call(worker.run_once, clock.now)  # type: ignore[union-attr]
    (page,) = sink.requests
    headers = dict(page.headers)  # names as sent, as a receiver's framework has them
    assert verified(SECRET.encode(), headers, page.body)
    assert not verified(b"another secret", headers, page.body)
    assert not verified(SECRET.encode(), headers, page.body.replace(b"alice", b"mallo"))
    # The documented tolerance: a delivery replayed more than 5 minutes later is refused,
    # one within it is not (the signature covers the timestamp, so it cannot be moved).
    sent_at = int(headers["X-Firebell-Timestamp"])
    assert abs(time.time() - sent_at) < 60
    real_time = time.time
    try:
        time.time = lambda: sent_at + 299  # type: ignore[assignment]
        assert verified(SECRET.encode(), headers, page.body)
        time.time = lambda: sent_at + 301  # type: ignore[assignment]
        assert not verified(SECRET.encode(), headers, page.body)
    finally:
        time.time = real_time  # type: ignore[assignment]


def _check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "firebell.yaml"
    config.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOOK_SECRET": "s3cret-from-env", "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).parents[3],
    )


def test_the_readme_contacts_example_passes_check_config(tmp_path: Path) -> None:
    done = _check_config(tmp_path, _block_after("**Contacts.**", "yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3cret-from-env" not in done.stdout + done.stderr


def test_the_readme_bundling_example_passes_check_config(tmp_path: Path) -> None:
    text = _block_after("**Bundling in pager storms**", "yaml")
    assert "bundle:" in text
    done = _check_config(tmp_path, text)
    assert done.returncode == 0, done.stdout + done.stderr
    # Not a do-nothing example: a bad window in it would be refused, naming the path.
    bad = _check_config(tmp_path, text.replace("window: 5s", "window: 11m"))
    assert bad.returncode != 0 and "paging.bundle" in bad.stdout + bad.stderr, bad.stdout
