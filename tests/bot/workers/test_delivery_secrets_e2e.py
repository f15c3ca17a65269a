"""Failing deliveries with credentials in every part of the contact (a json:// password,
a secret path and a `+header` value, a signed webhook's secret and URL token, a jsons://
password to a closed port), through a real `firebell serve` at debug level, on SQLite
and PostgreSQL: none of it is in the process's log, any stored row, the timeline, the
incident API or /metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select

from routing.storage.database import make_engine
from tests.support.paging import am_payload
from tests.support.raw_http import RawReply, RawRequest, RawSink
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting import wait_for

SECRETS = (
    "json-pw-41",
    "hook-token-41",
    "hdr-key-41",
    "wh-secret-42",
    "wh-token-42",
    "tls-pw-43",
    "tls-token-43",
)


def _answer(request: RawRequest) -> RawReply:
    # An answer that echoes what it got, as some receivers do in their errors.
    status = 500 if request.target.startswith("/hook-token-41") else 401
    return RawReply(status, {"X-Echo": request.target}, request.target.encode())


@pytest.mark.slow
def test_failing_deliveries_leave_no_credential_anywhere(database_url: str, tmp_path: Path) -> None:
    closed = free_port()
    with RawSink(_answer) as sink:
        host = f"127.0.0.1:{sink.port}"
        text = f"""
database_url: "{database_url}"
users:
  - name: alice
    contacts:
      - "json://alice:json-pw-41@{host}/hook-token-41?+X-Api-Key=hdr-key-41"
      - {{url: "http://{host}/signed?token=wh-token-42", type: webhook, secret: wh-secret-42}}
      - "jsons://bob:tls-pw-43@127.0.0.1:{closed}/tls-token-43"
escalation_policies:
  - {{name: ops, steps: [{{notify: ["user:alice"], wait: 5m}}]}}
route: {{group_wait: 0s, receiver: {{escalation: ops}}}}
"""
        server = ServerProcess(tmp_path, text).start(args=["--log-level", "debug"])
        try:
            response = httpx.post(
                server.base_url + "/webhooks/alertmanager",
                content=am_payload(),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 202, response.text
            wait_for("both answers", lambda: len(sink.requests) >= 2)
            time.sleep(1.0)  # the refused jsons:// and the results are recorded
            shown = [
                httpx.get(server.base_url + path).text
                for path in ("/api/v1/incidents/1", "/metrics")
            ]
        finally:
            server.stop()
        log = server.log()

    assert "hook-token-41" in sink.requests[0].target or "hook-token-41" in sink.requests[1].target
    assert "answered HTTP 401" in shown[0], shown[0]  # the webhook's, failed for good
    engine = make_engine(database_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            stored = json.dumps(
                [
                    (f"{table.name}.{column}", str(value))
                    for table in meta.sorted_tables
                    for row in conn.execute(select(table)).mappings().all()
                    for column, value in row.items()
                    # An outbox row's target is where it is sent: the contact itself,
                    # as the config has it (a webhook's without its secret).
                    if (table.name, column) != ("notification", "address")
                ]
            )
    finally:
        engine.dispose()
    # Each was tried: the 500 and the refused connection wait for a retry.
    assert "answered HTTP 500" in stored and "ConnectError" in stored, stored
    places = {"log": log, "database": stored, "api": shown[0], "metrics": shown[1]}
    for where, text in places.items():
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, (where, leaked)
