"""Running a log backend's plan and fetch once against a loopback far side."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from integrations.logs.base import Fetched, LogBackend
from integrations.outbound import Outbound, Resolver

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
NOW_NS = 1_796_553_000 * 10**9  # NOW as Unix nanoseconds


def plan_and_fetch(
    backend: LogBackend,
    args: dict[str, Any],
    connection: dict[str, Any],
    resolver: Resolver | None = None,
) -> Fetched:
    conn = backend.connection_model.model_validate(connection)
    call = backend.plan(backend.args_model.model_validate(args), conn, NOW)

    async def go() -> Fetched:
        outbound = Outbound(resolver)
        try:
            return await backend.fetch(call, conn, outbound)
        finally:
            await outbound.aclose()

    return asyncio.run(go())
