"""Syslog receiver for nginx's `error_log syslog:server=HOST:PORT` (RFC 3164, UDP and TCP).

Each message is stored in the inbox like a webhook body; the nginx parser reads the
payload (the whole error.log line). UDP cannot push back, so the rate is bounded by
how fast the intake commits; TCP applies natural back-pressure.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future

from bot.runtime.state import Runtime
from integrations.sources import SOURCES, PayloadError, SourceOptions
from integrations.sources.syslog import parse_syslog_message, split_tcp_frames
from routing.intake.submission import Submission

log = logging.getLogger("firebell.syslog")
MAX_TCP_BUFFER = 1 << 20


def _submit(rt: Runtime, message: bytes) -> Future[object] | None:
    line = parse_syslog_message(message)
    if line is None:
        rt.metrics.rejected.labels("nginx-syslog", "unparsable").inc()
        return None
    conf = rt.settings.sources.nginx
    options = SourceOptions(services={**rt.settings.services, **conf.services})
    try:
        result = SOURCES["nginx"].parse(line.encode(), {"content-type": "text/plain"}, options)
    except PayloadError:
        rt.metrics.rejected.labels("nginx-syslog", "invalid").inc()
        return None
    rt.metrics.received.labels("nginx").inc(len(result.alerts))
    if result.unparsed:
        rt.metrics.unparsed.labels("nginx").inc(result.unparsed)
    submission = Submission(
        source="nginx",
        alerts=result.alerts,
        body=message,
        content_type="syslog",
        note=result.note,
        unparsed=result.unparsed,
    )
    future: Future[object] = rt.intake.submit_nowait(submission)  # type: ignore[assignment]
    future.add_done_callback(_log_failure)
    return future


def _log_failure(future: Future[object]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("syslog message not stored: %s", exc)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        _submit(self.rt, data)


async def _handle_tcp(
    rt: Runtime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    buffer = b""
    try:
        while chunk := await reader.read(65536):
            buffer += chunk
            frames, buffer = split_tcp_frames(buffer)
            pending = [f for f in (_submit(rt, frame) for frame in frames) if f is not None]
            # Back-pressure: read more only once these are committed.
            for future in pending:
                await asyncio.wrap_future(future)
            if len(buffer) > MAX_TCP_BUFFER:
                log.warning("syslog TCP frame over %d bytes; closing connection", MAX_TCP_BUFFER)
                break
        if buffer.strip():
            _submit(rt, buffer)
    except Exception as exc:
        log.warning("syslog TCP connection ended: %s", exc)
    finally:
        writer.close()


async def start_syslog(
    rt: Runtime, listen: str
) -> list[asyncio.AbstractServer | asyncio.BaseTransport]:
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpProtocol(rt), local_addr=(host, port)
    )
    server = await asyncio.start_server(lambda r, w: _handle_tcp(rt, r, w), host=host, port=port)
    log.info("syslog listening on %s (UDP and TCP)", listen)
    return [transport, server]
