"""Size-capped request bodies for the webhook lane, which reads its own (plain ASGI).
Routes FastAPI serves (the REST API, the chat endpoints) are capped by bot.http.body_limit.

A body larger than `max_body_bytes` is refused before it is buffered: at once when the
Content-Length says so, else as soon as the chunks read so far exceed the limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Receive


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit


class ClientGone(Exception):
    """The client disconnected before its body was read."""


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The raw body from an ASGI `receive`, refusing more than `limit` bytes without
    reading them (BodyTooLarge)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
