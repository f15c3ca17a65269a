"""Size-capped request bodies, for the webhook lane and the chat endpoints alike.

A body larger than `max_body_bytes` is refused before it is buffered: at once when the
Content-Length says so, else as soon as the chunks read so far exceed the limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from bot.runtime.problems import problem_response


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


async def read_body_capped(request: Request, limit: int) -> bytes:
    """`read_body` for a Starlette request. The body is cached on the request as
    Starlette's own `request.body()` does, so a later `await request.body()` (slack-bolt's)
    returns it without reading again."""
    body = await read_body(request.receive, request.headers, limit)
    request._body = body
    return body


def too_large(exc: BodyTooLarge) -> Response:
    """The 413 answer, worded as the webhook lane words it."""
    return problem_response(413, str(exc))
