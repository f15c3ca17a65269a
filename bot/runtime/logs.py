"""Structured JSON logs carrying the request id; known secrets are scrubbed."""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Every configured secret, however short (a short token is still a token); the
        # longest first, so a URL is masked whole before the password inside it.
        # Each is also looked for as JSON writes it (quotes and backslashes escaped).
        forms = {form for s in secrets if s for form in (s, orjson.dumps(s).decode()[1:-1])}
        self.secrets = sorted(forms, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("method", "path", "status", "duration_ms", "source", "client"):
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        text = orjson.dumps(entry).decode()
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access logs are replaced by our own request log line (with the request id).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request's URL at info and httpcore the answer's headers at debug:
    # a json:// or webhook contact's URL is a credential (a token in its path or query)
    # in the form it is sent, which the scrubber does not know. Notifiers say what failed.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
