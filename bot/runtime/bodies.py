"""Size-capped request bodies for the endpoints that take raw POSTs outside the webhook lane.

A body larger than `max_body_bytes` is refused before it is buffered: at once when the
Content-Length says so, else as soon as the chunks read so far exceed the limit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit


async def read_body_capped(request: Request, limit: int) -> bytes:
    """The raw body, never buffering more than `limit` bytes (BodyTooLarge beyond that).

    The body is cached on the request as Starlette's own `request.body()` does, so a
    later `await request.body()` (slack-bolt's) returns it without reading again.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body
    return body


def too_large(exc: BodyTooLarge) -> JSONResponse:
    """The 413 answer, worded as the webhooks word it."""
    return JSONResponse({"error": str(exc)}, status_code=413)
