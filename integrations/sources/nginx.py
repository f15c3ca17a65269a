"""Nginx error.log lines (plain text, or JSON/NDJSON from log shippers) to alerts.

Body shapes accepted:
- text: error.log lines, one per line, optionally behind a shipper prefix
  (syslog file, journald, `docker logs -t`, docker-compose);
- JSON: one object with a `line`, `message` or `log` string (what Vector,
  Fluent Bit and Promtail-style shippers send), an array of such objects (or of
  plain strings), or NDJSON (one such object per line).

Identity is the message template (numbers, addresses, ports, hex, uuids, paths,
URLs and query strings masked; errno text normalized so glibc's
"Connection timed out", musl's "Operation timed out" and "Unknown error" agree)
plus the `server` name and the upstream host (never its port or path). So many
clients hitting one dead upstream are one alert, while another server or upstream
host is another.

Nginx writes its host's local time with no zone: `SourceOptions.time_zone` names it
(`sources.nginx.time_zone`, default UTC; DST edges in `nginx_line`). Lines that are not error lines
(access log lines, garbage, shapes we do not know) are counted in
`ParseResult.unparsed`; the caller keeps the raw body. Every alert is `firing`:
thresholds and auto-resolve belong to the pipeline.

This module turns parsed lines into alerts; the line grammar is in `nginx_line`,
the identity (templates, upstream host) in `nginx_template`, body shapes in `nginx_body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from integrations.sources.base import ParseResult, SourceOptions
from integrations.sources.nginx_body import body_lines
from integrations.sources.nginx_line import NginxLine, parse_error_line
from integrations.sources.nginx_template import message_template, upstream_host
from integrations.sources.payload import header
from routing.intake.alert import UNKNOWN_SERVICE, Alert, AlertStatus, Severity
from routing.intake.fingerprint import fingerprint_of

NAME = "nginx"
TITLE_LIMIT = 200

LEVELS: Mapping[str, Severity] = {
    "emerg": Severity.CRITICAL,
    "alert": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warn": Severity.WARNING,
    "notice": Severity.INFO,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}


class NginxSource:
    """Parses error.log text or shipper JSON; one firing alert per error line."""

    name = NAME

    def parse(self, body: bytes, headers: Mapping[str, str], options: SourceOptions) -> ParseResult:
        lines, unparsed = body_lines(body, header(headers, "content-type"))
        alerts: list[Alert] = []
        for line in lines:
            parsed = parse_error_line(line, options.time_zone)
            if parsed is None:
                unparsed += 1
            else:
                alerts.append(alert_for(parsed, options))
        return ParseResult(alerts, unparsed=unparsed)


def alert_for(parsed: NginxLine, options: SourceOptions) -> Alert:
    """The alert for one parsed line (a syslog listener can call it per datagram)."""
    template = message_template(parsed.message, parsed.action)
    upstream = upstream_host(parsed.upstream) if parsed.upstream else ""
    server = parsed.server or ""
    fields = {"template": template, "server": server, "upstream_host": upstream}
    service = _service(server, upstream, parsed.host, options)
    labels = {"service": service, "level": parsed.level}
    if server:
        labels["server"] = server
    if upstream:
        labels["upstream_host"] = upstream
    annotations = {"message": parsed.message}
    for key in ("client", "request", "upstream", "host", "referrer"):
        value = getattr(parsed, key)
        if value:
            annotations[key] = value
    title = template or "(empty nginx message)"
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    return Alert(
        source=NAME,
        fingerprint=_fingerprint(template, server, upstream),
        status=AlertStatus.FIRING,
        severity=LEVELS[parsed.level],
        service=service,
        title=title,
        description=parsed.text,
        labels=labels,
        annotations=annotations,
        starts_at=parsed.time,
        fingerprint_fields=fields,
    )


@lru_cache(maxsize=4096)
def _fingerprint(template: str, server: str, upstream: str) -> str:
    return fingerprint_of(NAME, {"template": template, "server": server, "upstream_host": upstream})


def _service(server: str, upstream: str, host: str | None, options: SourceOptions) -> str:
    """The first of server name, upstream host, Host header that `services` maps."""
    # `_` is nginx's catch-all server_name, never a real name to map.
    candidates = [server if server != "_" else "", upstream]
    if host:
        candidates += [host, host.rsplit(":", 1)[0] if host.count(":") == 1 else host]
    for candidate in candidates:
        if candidate and candidate in options.services:
            return options.services[candidate]
    return UNKNOWN_SERVICE


nginx = NginxSource()
