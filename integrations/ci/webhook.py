"""ci.webhook: a signed JSON POST to a receiver the operator runs (firebell's own format).

The request (documented in the README so a receiver can verify it):

    POST <connection url>
    Content-Type: application/json
    Idempotency-Key: fb-<run id>-<step id>      (the same on any resend: dedup on it)
    X-Firebell-Timestamp: <unix seconds>
    X-Firebell-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

    {"run_id": .., "playbook": .., "step": .., "incident": {"id", "url", "labels"},
     "params": {..}, "body": <the step's rendered with.body>}

A receiver recomputes the HMAC over the raw body bytes, compares in constant time and
refuses timestamps older than a few minutes. Any 2xx is success. A 2xx JSON answer with
`{"status_url": "<url under the connection url>"}` (its part past the connection url
under 190 characters) makes `wait:` poll that URL (a signed GET, empty body) until it
answers `{"status": .., "conclusion": "success"|"failure"|..}` with a conclusion.
The timestamp and signature are added at send time; plans, dry-runs and approvals show
the request without them. A webhook is never sent twice, so an
ambiguous send cannot be looked up (`find` answers None) and ends as unknown.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, JsonValue

from integrations.ci.base import (
    MAX_REMOTE_ID,
    CiArgs,
    CiConnection,
    CiError,
    Dispatched,
    HttpCall,
    Polled,
    RemoteRun,
)
from integrations.ci.support import json_answer, read_json, send_dispatch
from integrations.connections import ConnectionBase
from integrations.outbound import Outbound, describe_request
from routing.basics.field import Secret

TIMESTAMP_HEADER = "X-Firebell-Timestamp"
SIGNATURE_HEADER = "X-Firebell-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_ACCEPTED = "accepted "  # remote_id of a run the receiver finished by accepting it
_STATUS = "status "  # remote_id of a run polled at a status path


class WebhookConnection(CiConnection):
    type: Literal["webhook"]
    secret: Secret  # the HMAC key the receiver shares


def body_bytes(payload: Any) -> bytes:
    """The exact bytes sent and signed (compact, UTF-8, keys in plan order)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _sendable(body: JsonValue) -> JsonValue:
    try:
        body_bytes(body)
    except (UnicodeEncodeError, ValueError):  # a lone surrogate; NaN or Infinity
        raise ValueError(
            "cannot be sent as JSON (invalid Unicode text or a non-finite number)"
        ) from None
    return body


class WebhookArgs(CiArgs):
    body: Annotated[JsonValue, AfterValidator(_sendable)] = None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """v1=hex(HMAC-SHA256(secret, timestamp + "." + body))"""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed(call: HttpCall, secret: str, now: datetime) -> HttpCall:
    """`call` with its body fixed as bytes and the timestamp and signature headers."""
    body = body_bytes(call.json) if call.json is not None else b""
    timestamp = str(int(now.timestamp()))
    return HttpCall(
        method=call.method,
        path=call.path,
        query=call.query,
        content=body,
        headers=(
            *call.headers,
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, signature(secret, timestamp, body)),
        ),
    )


def _status_path(answer: Any, connection: WebhookConnection) -> str | None:
    """The status_url's part after the connection URL; None when absent or elsewhere
    (credentials and signatures go only where the operator pointed)."""
    url = answer.get("status_url") if isinstance(answer, dict) else None
    if isinstance(url, str) and url.startswith(connection.url + "/"):
        path = url[len(connection.url) :]
        return path if len(_STATUS + path) <= MAX_REMOTE_ID else None
    return None


class WebhookBackend:
    name: ClassVar[str] = "webhook"
    connection_model: ClassVar[type[ConnectionBase]] = WebhookConnection
    args_model: ClassVar[type[BaseModel]] = WebhookArgs

    def plan(
        self,
        args: WebhookArgs,
        connection: WebhookConnection,
        correlation_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpCall:
        return HttpCall(
            method="POST",
            path="",
            json={**(context or {}), "body": args.body},
            headers=(("Content-Type", "application/json"), (IDEMPOTENCY_HEADER, correlation_id)),
        )

    def describe(self, call: HttpCall, connection: WebhookConnection) -> Mapping[str, Any]:
        return describe_request(connection, call)

    async def dispatch(
        self, call: HttpCall, connection: WebhookConnection, outbound: Outbound
    ) -> Dispatched:
        now = datetime.now(UTC)
        sent = await send_dispatch(
            outbound, connection, signed(call, connection.secret, now), "webhook", now
        )
        if isinstance(sent, Dispatched):
            return sent
        key = dict(call.headers)[IDEMPOTENCY_HEADER]
        try:
            path = _status_path(json_answer(sent, "webhook"), connection)
        except CiError:  # any 2xx is success; a body that is not JSON just has no status_url
            path = None
        if path is None:
            return Dispatched(
                RemoteRun(_ACCEPTED + key), ambiguous=False, detail=f"webhook HTTP {sent.status}"
            )
        return Dispatched(
            RemoteRun(_STATUS + path, connection.url + path),
            ambiguous=False,
            detail=f"webhook HTTP {sent.status}, status at {path}",
        )

    async def find(
        self,
        args: WebhookArgs,
        connection: WebhookConnection,
        outbound: Outbound,
        correlation_id: str,
        since: datetime,
    ) -> RemoteRun | None:
        return None  # a receiver offers no lookup, and a webhook is never sent twice

    async def poll(
        self, run: RemoteRun, connection: WebhookConnection, outbound: Outbound
    ) -> Polled:
        if not run.remote_id.startswith(_STATUS):
            return Polled(status="accepted", final=True, conclusion="success")
        now = datetime.now(UTC)
        call = signed(
            HttpCall(method="GET", path=run.remote_id[len(_STATUS) :]), connection.secret, now
        )
        answer, wait = await read_json(outbound, connection, call, "webhook", now)
        answer = answer if isinstance(answer, dict) else {}
        conclusion = answer.get("conclusion")
        final = isinstance(conclusion, str) and conclusion != ""
        return Polled(
            status=str(answer.get("status") or ("completed" if final else "running")),
            final=final,
            conclusion=str(conclusion).lower() if final else None,
            url=run.url,
            retry_after=wait,
        )

    async def cancel(
        self, run: RemoteRun, connection: WebhookConnection, outbound: Outbound
    ) -> str:
        return "webhook: the receiver owns the run; firebell cannot cancel it"


__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookArgs",
    "WebhookBackend",
    "WebhookConnection",
    "body_bytes",
    "signature",
]
