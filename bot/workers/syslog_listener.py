"""Syslog receiver for nginx's `error_log syslog:server=HOST:PORT` (RFC 3164, UDP and TCP).

Each message is stored in the inbox like a webhook body; the nginx parser reads the
payload (the whole error.log line). Lines go to the intake's syslog lane, which is
bounded (`intake.syslog_queue_size`) and served after every waiting webhook. UDP cannot
push back: a line that finds the lane full is dropped before it is even parsed, and
counted in `firebell_dropped_total{reason}`, as is a queued line the writer fails to
store. TCP pushes back instead: the connection is not read further until the lane has
room again.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from functools import partial

from bot.runtime.heartbeats import Heartbeat
from bot.runtime.intake_queue import Lane
from bot.runtime.intake_writer import IntakeFull, IntakeUnavailable
from bot.runtime.state import Runtime
from integrations.sources import SOURCES, PayloadError
from integrations.sources.syslog import parse_syslog_message, split_tcp_frames
from routing.intake.submission import Submission, SubmissionOutcome

log = logging.getLogger("firebell.syslog")
MAX_TCP_BUFFER = 1 << 20
LISTENER = "syslog listener"  # its heartbeat's name, as /readyz reports it
BEAT_EVERY = 0.5  # seconds between heartbeats while the sockets are open
TCP_ROOM_POLL = 0.02  # seconds between looks for room in the lane (TCP back-pressure)
STORE_FAILED = "store_failed"  # the drop reason of a queued line the ingest refused


def _parse(rt: Runtime, message: bytes) -> Submission | None:
    line = parse_syslog_message(message)
    if line is None:
        rt.metrics.rejected.labels("nginx-syslog", "unparsable").inc()
        return None
    options = rt.settings.source_options("nginx")
    try:
        result = SOURCES["nginx"].parse(line.encode(), {"content-type": "text/plain"}, options)
    except PayloadError:
        rt.metrics.rejected.labels("nginx-syslog", "invalid").inc()
        return None
    return Submission(
        source="nginx",
        alerts=result.alerts,
        body=message,
        content_type="syslog",
        note=result.note,
        unparsed=result.unparsed,
    )


def _queued(rt: Runtime, submission: Submission, future: Future[SubmissionOutcome]) -> None:
    rt.metrics.received.labels("nginx").inc(len(submission.alerts))
    if submission.unparsed:
        rt.metrics.unparsed.labels("nginx").inc(submission.unparsed)
    future.add_done_callback(partial(_count_failure, rt))


def _submit_datagram(rt: Runtime, message: bytes) -> None:
    """Queue one UDP line, or drop it (counted) when the syslog lane is full."""
    if not rt.intake.queue.has_room(Lane.SYSLOG):
        rt.metrics.dropped.labels(IntakeFull.reason).inc()  # before spending a parse on it
        return
    submission = _parse(rt, message)
    if submission is None:
        return
    try:
        future = rt.intake.offer(submission)
    except IntakeUnavailable as exc:
        rt.metrics.dropped.labels(exc.reason).inc()
        return
    _queued(rt, submission, future)


async def _submit_frame(rt: Runtime, message: bytes) -> Future[SubmissionOutcome] | None:
    """Queue one TCP frame, waiting for room in the syslog lane rather than dropping it."""
    submission = _parse(rt, message)
    if submission is None:
        return None
    while True:
        try:
            future = rt.intake.offer(submission)
        except IntakeFull:
            await asyncio.sleep(TCP_ROOM_POLL)
            continue
        except IntakeUnavailable as exc:  # the writer is down: waiting would never end
            rt.metrics.dropped.labels(exc.reason).inc()
            return None
        _queued(rt, submission, future)
        return future


def _count_failure(rt: Runtime, future: Future[SubmissionOutcome]) -> None:
    """A queued line the writer could not store is dropped too (nobody can retry it):
    counted like a line the full lane refused, by why (the writer's thread runs this)."""
    exc = None if future.cancelled() else future.exception()
    if exc is not None:
        reason = exc.reason if isinstance(exc, IntakeUnavailable) else STORE_FAILED
        rt.metrics.dropped.labels(reason).inc()
        log.error("syslog message not stored: %s", exc)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        _submit_datagram(self.rt, data)

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog UDP socket error: %s", exc)


async def _handle_tcp(
    rt: Runtime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    buffer = b""
    try:
        while chunk := await reader.read(65536):
            buffer += chunk
            frames, buffer = split_tcp_frames(buffer)
            pending = [f for f in [await _submit_frame(rt, frame) for frame in frames] if f]
            # Back-pressure: read more only once these are committed.
            for future in pending:
                await asyncio.wrap_future(future)
            if len(buffer) > MAX_TCP_BUFFER:
                log.warning("syslog TCP frame over %d bytes; closing connection", MAX_TCP_BUFFER)
                break
        if buffer.strip():
            await _submit_frame(rt, buffer)
    except Exception as exc:
        log.warning("syslog TCP connection ended: %s", exc)
    finally:
        writer.close()


class SyslogListener:
    """The UDP endpoint and the TCP server on one address, and the heartbeat that says
    both are open and the event loop delivering their lines is turning."""

    def __init__(
        self, rt: Runtime, udp: asyncio.DatagramTransport, tcp: asyncio.AbstractServer
    ) -> None:
        self.rt = rt
        self.udp = udp
        self.tcp = tcp
        self.beat: Heartbeat = rt.heartbeats.register(LISTENER, self._watching)
        self._watch = asyncio.create_task(self._beat_while_open(), name="syslog-heartbeat")

    def _watching(self) -> bool:
        return not self._watch.done()

    async def _beat_while_open(self) -> None:
        while not self.udp.is_closing() and self.tcp.is_serving():
            self.beat.stamp()
            await asyncio.sleep(BEAT_EVERY)
        log.error("syslog listener closed its sockets: lines are no longer received")

    def close(self) -> None:
        self.rt.heartbeats.unregister(self.beat)
        self._watch.cancel()
        self.udp.close()
        self.tcp.close()


async def start_syslog(rt: Runtime, listen: str) -> SyslogListener:
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpProtocol(rt), local_addr=(host, port)
    )
    server = await asyncio.start_server(lambda r, w: _handle_tcp(rt, r, w), host=host, port=port)
    log.info("syslog listening on %s (UDP and TCP)", listen)
    listener = rt.extras["syslog"] = SyslogListener(rt, transport, server)
    return listener
