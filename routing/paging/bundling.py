"""Bundling in pager storms (pure; the clock is passed in).

The rule, per contact (one address): at most `max_pages` messages within any `window`,
a bundle counting as one. A page due while the contact is under that is sent at once,
so the first page of a burst is never held. A page beyond it is held, and every page
due for that contact while a bundle is forming joins it (never overtakes it). The
bundle goes out when the oldest message of the window leaves it: at most `window`
after its first page was held. A contact with `every_page: true`, and everyone when
bundling is off (the default), gets every page alone.

routing/paging/bundle_store.py keeps the held pages as outbox rows and acts on this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from routing.oncall.bundle_rule import BundleRule, effective_rule
from routing.oncall.people import User


@dataclass(frozen=True, slots=True)
class Decision:
    """Send the page now, or hold it for the bundle that goes out at `flush_at`."""

    hold: bool
    flush_at: datetime | None = None


SEND = Decision(hold=False)


def decide(
    rule: BundleRule | None,
    released: Sequence[datetime],
    forming_flush_at: datetime | None,
    now: datetime,
) -> Decision:
    """What to do with one page due for a contact at `now`.

    `released`: when the contact's recent messages (pages sent alone and bundles) went
    out; `forming_flush_at`: when the contact's bundle being formed goes out, if one is.
    """
    if rule is None:
        return SEND
    if forming_flush_at is not None:
        return Decision(hold=True, flush_at=forming_flush_at)
    recent = sorted(t for t in released if t > now - rule.window)
    if len(recent) < rule.max_pages:
        return SEND
    # Out when the message that fills the window leaves it: the rate holds, and the
    # wait is at most one window.
    return Decision(hold=True, flush_at=recent[-rule.max_pages] + rule.window)


def flush_due(flush_at: datetime, now: datetime) -> bool:
    return flush_at <= now


def contact_rules(
    users: Iterable[User], global_rule: BundleRule | Literal["off"]
) -> dict[str, BundleRule]:
    """Contact address -> the rule its pages follow; contacts that get every page alone
    are left out. An address two users share follows the first user's rule."""
    rules: dict[str, BundleRule] = {}
    opted_out: set[str] = set()
    for user in users:
        rule = effective_rule(global_rule, user.bundle)
        for contact in user.contacts:
            address = contact.address
            if address in rules or address in opted_out:
                continue
            if rule is None or contact.every_page:
                opted_out.add(address)
            else:
                rules[address] = rule
    return rules
