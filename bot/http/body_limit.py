"""`max_body_bytes` for every route FastAPI serves (the REST API, the chat endpoints): a
larger body is refused with 413 before it is buffered, as the webhook lane refuses it."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.runtime.bodies import BodyTooLarge
from bot.runtime.problems import send_problem


class BodyLimit:
    """Plain ASGI: a declared Content-Length over the limit is answered at once; a streamed
    body raises 413 from `receive` as soon as the chunks read exceed it (FastAPI passes
    an HTTPException raised while reading the body to the error handlers)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = str(BodyTooLarge(self.limit))  # worded as the webhook lane words it
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await send_problem(send, 413, detail)
                return
        size = 0

        async def capped() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.limit:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, capped, send)
