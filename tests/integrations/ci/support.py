"""Driving a CI backend against a fake CI: validate config and args, run its coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from integrations.ci import CI_BACKENDS
from integrations.ci.base import CiBackend
from integrations.outbound import Outbound

T = TypeVar("T")


def sync(make: Callable[[Outbound], Awaitable[T]]) -> T:
    """Run `make(outbound)` to completion with a fresh guarded client."""

    async def go() -> T:
        outbound = Outbound()
        try:
            return await make(outbound)
        finally:
            await outbound.aclose()

    return asyncio.run(go())


class Driver:
    """One backend, one connection, one step's args: the calls the engine makes."""

    def __init__(self, name: str, connection: Any, args: dict[str, Any]) -> None:
        """`connection`: a config dict, or a connection model as the config loaded it."""
        self.backend: CiBackend = CI_BACKENDS[name]
        self.connection: Any = self.backend.connection_model.model_validate(connection)
        self.args = self.backend.args_model.model_validate(args)

    def plan(self, correlation_id: str, context: dict[str, Any] | None = None) -> Any:
        return self.backend.plan(self.args, self.connection, correlation_id, context)

    def dispatch(self, correlation_id: str, context: dict[str, Any] | None = None) -> Any:
        call = self.plan(correlation_id, context)
        return sync(lambda out: self.backend.dispatch(call, self.connection, out))

    def find(self, correlation_id: str, since: Any) -> Any:
        return sync(
            lambda out: self.backend.find(self.args, self.connection, out, correlation_id, since)
        )

    def poll(self, run: Any) -> Any:
        return sync(lambda out: self.backend.poll(run, self.connection, out))

    def cancel(self, run: Any) -> str:
        return sync(lambda out: self.backend.cancel(run, self.connection, out))
