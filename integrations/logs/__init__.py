"""Log backends: one module per log store, one registry of them.

`LOG_BACKENDS` maps a backend's name (the action is `logs.<name>`) to the backend;
each connection `type:` joins integrations.connections.CONNECTION_TYPES from it.
Adding a backend is one import and one entry in LOG_BACKENDS.
"""

from __future__ import annotations

from integrations.connections import connection_type
from integrations.logs.base import LogBackend, LogLine
from integrations.logs.elasticsearch import ElasticsearchBackend
from integrations.logs.files import FileBackend
from integrations.logs.http_support import iso_millis
from integrations.logs.journald import JournaldBackend
from integrations.logs.loki import LokiBackend
from integrations.logs.sentry_event import SentryEventBackend

LOG_BACKENDS: dict[str, LogBackend] = {
    backend.name: backend
    for backend in (
        LokiBackend(),
        ElasticsearchBackend(),
        SentryEventBackend(),
        FileBackend(),
        JournaldBackend(),
    )
}


def format_line(line: LogLine) -> str:
    """One stored output line: `2026-12-06T10:00:01.123Z {app="api"} text` (time and
    origin when known)."""
    parts = [iso_millis(line.at)] if line.at is not None else []
    parts += [line.origin] if line.origin else []
    return " ".join([*parts, line.text])


__all__ = ["LOG_BACKENDS", "connection_type", "format_line"]
