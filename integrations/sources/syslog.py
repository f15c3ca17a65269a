"""Syslog framing for nginx's `error_log syslog:` output: the payload of an RFC 3164
message, and splitting a TCP byte stream into messages. No sockets here.

Nginx sends `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: payload` (day space-padded; no
HOSTNAME with `nohostname`), and the payload is the whole error.log line, its own
timestamp included, so `integrations.sources.nginx.parse_error_line` takes it as is.
"""

from __future__ import annotations

import re

MAX_PRI = 191  # facility 23 * 8 + severity 7
MAX_FRAME = 64 * 1024  # a longer frame is cut: a sender must not make us buffer forever

_RFC3164 = re.compile(
    rb"<(?P<pri>\d{1,3})>"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} "
    # HOSTNAME is optional (`nohostname`); TAG is a word, maybe with `[pid]`.
    rb"(?:(?P<host>\S+) )?(?P<tag>[^\s:\[\]]+)(?:\[\d+\])?: ?(?P<payload>.*)",
    re.DOTALL,
)


def parse_syslog_message(datagram: bytes) -> str | None:
    """The payload of an RFC 3164 message (the nginx line), or None if it is not one."""
    match = _RFC3164.match(datagram.rstrip(b"\r\n\x00"))
    if match is None or int(match["pri"]) > MAX_PRI:
        return None
    payload = match["payload"].decode("utf-8", "replace").strip()
    return payload or None


def split_tcp_frames(buffer: bytes, *, max_frame: int = MAX_FRAME) -> tuple[list[bytes], bytes]:
    """Split a TCP syslog stream into frames; return them and the incomplete remainder.

    Both RFC 6587 framings: octet counting (`LEN SP MSG`, recognized by a leading
    digit) and newline-delimited (`<PRI>...\\n`). A frame longer than `max_frame`
    is cut there, so the caller's buffer stays bounded; a malformed length prefix
    falls back to newline framing so the stream resynchronizes.
    """
    frames: list[bytes] = []
    position = 0
    end = len(buffer)
    while position < end:
        if buffer[position : position + 1].isdigit():
            counted = _octet_counted(buffer, position, max_frame)
            if counted is None:
                break  # the length prefix or its message is not complete yet
            if counted:
                frame, position = counted
                if frame:
                    frames.append(frame)
                continue
        newline = buffer.find(b"\n", position)
        if newline < 0:
            if end - position >= max_frame:
                frames.append(buffer[position : position + max_frame])
                position += max_frame
                continue
            break
        frame = buffer[position:newline].rstrip(b"\r")
        position = newline + 1
        if frame.strip():
            frames.append(frame)
    return frames, buffer[position:]


def _octet_counted(
    buffer: bytes, position: int, max_frame: int
) -> tuple[bytes, int] | tuple[()] | None:
    """(frame, next position) for `LEN SP MSG`; () if malformed; None if incomplete."""
    cursor = position
    end = len(buffer)
    while cursor < end and cursor - position <= 9 and buffer[cursor : cursor + 1].isdigit():
        cursor += 1
    if cursor == end:
        return None
    if buffer[cursor : cursor + 1] != b" " or cursor - position > 9:
        return ()
    length = int(buffer[position:cursor])
    if length == 0 or length > max_frame:
        return ()
    start = cursor + 1
    if end - start < length:
        return None
    return buffer[start : start + length], start + length
