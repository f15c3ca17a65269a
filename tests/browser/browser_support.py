"""Debian's Chromium driven by Playwright, for the web page's browser tests.

Never `playwright install`: the browser is Debian's (`make system-packages` installs it),
found at $CHROMIUM or /usr/bin/chromium. Missing, the tests skip with the reason, except in
CI (FIREBELL_REQUIRE_BROWSER=1), where a missing browser fails like a missing PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

REQUIRE_BROWSER = os.environ.get("FIREBELL_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("FIREBELL_TEST_ARTIFACTS", "build/test-artifacts"))

# Chromium in a closed network: without these it keeps trying Google's hosts.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The browser to drive, or None when this machine has none."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def no_browser(reason: str) -> None:
    """Skip locally, fail in CI."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (FIREBELL_REQUIRE_BROWSER=1: run `make system-packages`)")
    pytest.skip(f"{reason}; `make system-packages` installs Debian's chromium")


def artifact_path(nodeid: str, suffix: str) -> Path:
    """Where a failed test's screenshot goes (kept by CI as an artifact)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[-150:]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{safe}{suffix}"


# Added to every page before its scripts: counts htmx requests in flight and notes the
# last activity (a live tick, a request, a swap), so `settled()` can wait for a quiet page.
TRACK_HTMX = """
(() => {
  window.__fb = {inflight: 0, last: performance.now()};
  const fb = window.__fb;
  const touch = () => { fb.last = performance.now(); };
  const on = (name, f) => document.addEventListener(name, f, true);
  on("htmx:before:request", () => { fb.inflight++; touch(); });
  on("htmx:finally:request", () => { fb.inflight--; touch(); });
  on("htmx:after:swap", touch);
  for (const topic of ["incidents", "oncall", "silences", "runs"]) {
    on("changed-" + topic, touch);
  }
})();
"""

# Quiet: no htmx request in flight, none dimmed, nothing happened for 300 ms.
SETTLED = """() => window.__fb && window.__fb.inflight <= 0
  && !document.querySelector(".htmx-request")
  && performance.now() - window.__fb.last > 300"""
