"""The objects one running firebell shares between its surfaces (composition root state)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.runtime.intake_writer import Intake
from bot.runtime.metrics import Metrics

if TYPE_CHECKING:
    from bot.config import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    intake: Intake
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    open_access: bool = False  # no tokens configured and bound to loopback
    extras: dict[str, Any] = field(default_factory=dict)
