"""The least a durable pager on firebell's stack must do, as a server (helper of
benchmarks/stack_floor.py, not a test): FastAPI under uvicorn with `firebell serve`'s
options, one route taking firebell's Alertmanager webhook body, and for each alert

  full: one row committed to SQLite through firebell's own engine (WAL,
        synchronous=NORMAL, BEGIN IMMEDIATE) on one writer thread, 202, then one JSON
        POST to the sink;
  nodb: the same without the database: parse, 202, send.

The page goes out on firebell's own pooled client (http_pool.new_client: keep-alive, 16
in flight per origin) with firebell's json:// request (json_webhook.parse_target and
body_for: apprise's NotifyJSON body and headers; the alert's instance and summary in the
message, as its "Alerts:" line lists them). No retries, no outbox, no incident, no
grouping: nothing firebell could skip.

    python benchmarks/floor_server.py --port P --sink-port S --mode full --db PATH
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from integrations.notifiers.http_pool import new_client
from integrations.notifiers.json_webhook import JsonTarget, body_for, parse_target
from routing.storage.database import make_engine

metadata = MetaData()
alerts_table = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("labels", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)


def sqlite_engine(path: str) -> Engine:
    """firebell's own SQLite engine (routing.storage.database.make_engine: WAL,
    synchronous=NORMAL, BEGIN IMMEDIATE behind the in-process writer queue)."""
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    return engine


def fingerprint(labels_json: str) -> str:
    return hashlib.sha256(labels_json.encode()).hexdigest()


def page_body(alert: dict[str, Any], target: JsonTarget) -> bytes:
    """firebell's json:// body (apprise's NotifyJSON, byte for byte), the instance in the
    message as `summary (instance)` so the sink's INSTANCE regex finds it."""
    labels = alert.get("labels", {})
    summary = alert.get("annotations", {}).get("summary", "")
    title = f"[CRITICAL] {labels.get('alertname', '')}"
    message = f"{title}\nStatus: triggered\nAlerts:\n- {summary} ({labels.get('instance', '')})"
    return body_for(target, title, message, "failure")


def build_app(mode: str, sink_port: int, db: str) -> FastAPI:
    state: dict[str, Any] = {}
    pending: set[asyncio.Task[None]] = set()  # strong refs: a bare task may be collected

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["client"] = new_client()  # firebell's pool: keep-alive, 16 per origin
        if mode == "full":
            state["engine"] = sqlite_engine(db)
            state["writer"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        yield
        if pending:
            await asyncio.wait(pending, timeout=5)
        await state["client"].aclose()
        if mode == "full":
            state["writer"].shutdown(wait=True)
            state["engine"].dispose()

    app = FastAPI(lifespan=lifespan)

    def commit(alerts: list[dict[str, Any]]) -> None:
        """One BEGIN IMMEDIATE transaction holding this request's rows (the writer thread)."""
        now = time.time()
        labels = [json.dumps(a.get("labels", {}), sort_keys=True) for a in alerts]
        rows = [
            {"fingerprint": fingerprint(text), "labels": text, "received_at": now}
            for text in labels
        ]
        with state["engine"].begin() as conn:
            conn.execute(alerts_table.insert(), rows)

    async def send(alert: dict[str, Any]) -> None:
        contact = alert.get("labels", {}).get("contact", "c0")
        target = parse_target(f"json://127.0.0.1:{sink_port}/page/{contact}")
        # apprise's headers as firebell sends them; httpx sets Content-Length.
        headers = [(k, v) for k, v in target.headers if k.lower() != b"content-length"]
        try:
            response = await state["client"].request(
                target.method, target.url, content=page_body(alert, target), headers=headers
            )
            await response.aclose()
        except httpx.HTTPError:
            pass  # no retries: a lost page shows as missing at the sink

    @app.post("/webhooks/alertmanager", status_code=202)
    async def webhook(request: Request) -> Response:
        body = json.loads(await request.body())
        alerts = [a for a in body.get("alerts", []) if isinstance(a, dict)]
        if mode == "full":
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(state["writer"], commit, alerts)
        for alert in alerts:  # not awaited: the 202 never waits for the page
            task = asyncio.create_task(send(alert))
            pending.add(task)
            task.add_done_callback(pending.discard)
        return Response(b'{"accepted":true}', status_code=202, media_type="application/json")

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--mode", choices=("full", "nodb"), default="full")
    parser.add_argument("--db", default="floor.db")
    args = parser.parse_args()
    # bot/cli/serve_app.py's uvicorn.Config (loop and http left at "auto", as there).
    config = uvicorn.Config(
        build_app(args.mode, args.sink_port, args.db),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        proxy_headers=False,
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
