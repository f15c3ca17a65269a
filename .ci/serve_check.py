"""The installed image serves the page: `firebell serve` from the given venv on a free
loopback port, then the incident list, its stylesheet and script, and the login page
answer from the wheel's own templates and static files (run by `make image-install`)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status, answer.read().decode()


def main(firebell: str, config: str) -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = Path(config).with_suffix(".log")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [firebell, "serve", "--config", config, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # a busy CI machine starts it slowly
        while True:
            try:
                if get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"not up:\n{log.read_text()}") from None
                time.sleep(0.1)
        status, page = get(base + "/")  # open access: no tokens, loopback
        assert status == 200 and "<h1>Incidents</h1>" in page, page[:500]
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
        assert any("app.css" in a for a in assets) and any("htmx" in a for a in assets), assets
        for asset in assets:
            assert get(base + asset)[0] == 200, asset
        assert get(base + "/login")[0] == 200
    finally:
        server.terminate()
        server.wait(15)
    print(f"the installed firebell serves the page ({len(assets)} static files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
