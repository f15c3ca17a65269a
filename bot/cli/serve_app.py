"""uvicorn for `firebell serve`: the app's settings for a real listener, and open page
streams ended at the first stop signal (else one open tab holds a stop for the whole
graceful timeout)."""

from __future__ import annotations

import contextlib
from types import FrameType

from fastapi import FastAPI

from bot.web.live import end_streams

STARTUP_FAILURE = 3  # uvicorn.run's exit status when the app did not start


def run_app(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    rt = app.state.runtime

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            end_streams(rt)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # The TCP peer stays the peer: web.trusted_proxies is checked against it, and a
        # proxy's X-Forwarded-For must not turn a client into "the trusted proxy".
        proxy_headers=False,
    )
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
