"""One notifier call for the paging worker: bounded concurrency, a time limit, and a
notifier's exception turned into a retryable result (never a lost row)."""

from __future__ import annotations

import asyncio
import logging
import traceback

from integrations.notifiers import (
    DeliveryResult,
    Notification,
    Notifier,
    TextMessage,
    send_text,
)
from routing.basics.redact import scrub_url

log = logging.getLogger("firebell.paging")


async def send_in_slot(
    slots: asyncio.Semaphore,
    notifier: Notifier,
    address: str,
    notification: Notification | TextMessage,
    limit: float,
) -> DeliveryResult:
    """Send within `limit` seconds, the wait for a free slot included (a pass's rows may
    all wait behind slow ones)."""

    async def in_slot() -> DeliveryResult:
        async with slots:
            if isinstance(notification, TextMessage):
                return await send_text(notifier, address, notification)
            return await notifier.send(address, notification)

    try:
        return await asyncio.wait_for(in_slot(), limit)
    except TimeoutError:
        return DeliveryResult.retryable(f"no answer within {limit:.0f}s")
    except Exception as exc:  # a notifier bug must not lose the row
        # Its traceback may quote the address (an http:// form the log scrubber does
        # not know), so it is scrubbed here, as a result's detail is.
        trace = "".join(traceback.format_exception(exc))
        kind = getattr(notifier, "kind", "?")
        log.error("notifier %s raised: %s", kind, scrub_url(trace, address))
        return DeliveryResult.retryable(f"notifier error: {exc.__class__.__name__}")
