"""Bundling in pager storms, the pure decision with the clock passed in: the threshold,
the window, the first page of a burst at once, per-contact opt-out, per-user override;
and, for any arrival sequence, every page sent exactly once (alone or in one bundle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.oncall.bundle_rule import BundleRule, PagingSettings
from routing.oncall.people import User
from routing.paging.bundling import SEND, contact_rules, decide, flush_due

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
RULE = BundleRule(max_pages=5, window=timedelta(seconds=10))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_under_the_threshold_every_page_goes_out_at_once() -> None:
    assert decide(RULE, [at(0), at(1), at(2), at(3)], None, at(4)) == SEND


def test_beyond_the_threshold_the_page_waits_for_the_window_to_close() -> None:
    released = [at(0), at(1), at(2), at(3), at(4)]
    decision = decide(RULE, released, None, at(5))
    assert decision.hold
    assert decision.flush_at == at(10)  # when the oldest of the five leaves the window


def test_messages_that_left_the_window_no_longer_count() -> None:
    released = [at(0), at(1), at(2), at(3), at(4)]
    assert decide(RULE, released, None, at(10)) == SEND  # at(0) is exactly a window old


def test_a_page_joins_the_bundle_being_formed_rather_than_overtaking_it() -> None:
    assert decide(RULE, [], at(7), at(6)).flush_at == at(7)


def test_no_rule_means_every_page_alone() -> None:
    assert decide(None, [at(0)] * 50, None, at(0)) == SEND


def test_a_bundle_goes_out_at_its_time() -> None:
    assert not flush_due(at(10), at(9.999))
    assert flush_due(at(10), at(10))


def test_contact_rules_global_user_override_off_and_every_page() -> None:
    users = [
        User(name="alice", contacts=["json://h/alice", {"url": "ntfy://h/a", "every_page": True}]),
        User(name="bob", contacts=["json://h/bob"], bundle={"max_pages": 2, "window": "30s"}),
        User(name="carol", contacts=["json://h/carol"], bundle="off"),
    ]
    rules = contact_rules(users, RULE)
    assert rules == {
        "json://h/alice": RULE,
        "json://h/bob": BundleRule(max_pages=2, window=timedelta(seconds=30)),
    }
    # Off globally: only the user who asks for it bundles.
    assert set(contact_rules(users, "off")) == {"json://h/bob"}


def test_yaml_off_and_bad_rules_are_refused_by_name() -> None:
    assert PagingSettings.model_validate({"bundle": False}).bundle == "off"
    assert PagingSettings.model_validate({}).bundle == "off"
    with pytest.raises(ValidationError, match="bundle"):
        PagingSettings.model_validate({"bundle": True})
    with pytest.raises(ValidationError, match="max_pages"):
        PagingSettings.model_validate({"bundle": {"max_pages": 0, "window": "5s"}})
    with pytest.raises(ValidationError, match="window"):
        PagingSettings.model_validate({"bundle": {"max_pages": 3, "window": "0s"}})


# ----------------------------------------------------------- any arrival sequence


@dataclass
class Contact:
    """What the store keeps for one contact, simulated: released times, held pages."""

    rule: BundleRule | None
    released: list[datetime] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    flush_at: datetime | None = None
    singles: dict[int, datetime] = field(default_factory=dict)
    bundles: list[tuple[datetime, list[int]]] = field(default_factory=list)
    due: dict[int, datetime] = field(default_factory=dict)

    def flush(self, now: datetime) -> None:
        if self.flush_at is not None and flush_due(self.flush_at, now):
            self.bundles.append((now, self.held))
            self.released.append(now)
            self.held, self.flush_at = [], None

    def page(self, page_id: int, now: datetime) -> None:
        self.due[page_id] = now
        decision = decide(self.rule, self.released, self.flush_at, now)
        if decision.hold:
            self.held.append(page_id)
            self.flush_at = decision.flush_at
        else:
            self.singles[page_id] = now
            self.released.append(now)


gaps = st.lists(st.integers(min_value=0, max_value=4000), min_size=1, max_size=80)
rules = st.builds(
    BundleRule,
    max_pages=st.integers(min_value=1, max_value=6),
    window=st.integers(min_value=1, max_value=20).map(lambda s: timedelta(seconds=s)),
)


def simulate(rule: BundleRule | None, gaps_ms: list[int]) -> Contact:
    """A worker pass at each arrival and every 100 ms (it wakes at the bundle's time)."""
    contact = Contact(rule)
    now = T0
    for page_id, gap in enumerate(gaps_ms):
        end = now + timedelta(milliseconds=gap)
        while now < end:
            now = min(now + timedelta(milliseconds=100), end)
            contact.flush(now)
        contact.flush(now)  # a pass flushes before it decides
        contact.page(page_id, now)
    if contact.flush_at is not None:
        contact.flush(contact.flush_at)
    return contact


@settings(max_examples=300, deadline=None)
@given(rules, gaps)
def test_every_page_is_sent_exactly_once_and_the_rule_holds(
    rule: BundleRule, gaps_ms: list[int]
) -> None:
    contact = simulate(rule, gaps_ms)
    bundled = [p for _, pages in contact.bundles for p in pages]
    assert sorted(list(contact.singles) + bundled) == list(range(len(gaps_ms)))
    assert len(bundled) == len(set(bundled))
    assert all(pages for _, pages in contact.bundles)
    # The first page of a burst goes at once: no other page came within two windows
    # before it (a held page goes out within one, so nothing went out in the last one).
    for page_id, due in contact.due.items():
        recent = [d for p, d in contact.due.items() if p < page_id and d > due - 2 * rule.window]
        if not recent:
            assert page_id in contact.singles
    # No page waits longer than one window (plus the 100 ms pass interval here).
    for sent_at, pages in contact.bundles:
        for page_id in pages:
            assert sent_at - contact.due[page_id] <= rule.window + timedelta(milliseconds=100)
    # At most max_pages messages within any window (a bundle counts as one).
    sent = sorted(contact.released)
    for i, start in enumerate(sent):
        within = [t for t in sent[i:] if t < start + rule.window]
        assert len(within) <= rule.max_pages


@settings(max_examples=100, deadline=None)
@given(gaps)
def test_a_contact_without_a_rule_is_never_bundled(gaps_ms: list[int]) -> None:
    contact = simulate(None, gaps_ms)
    assert not contact.bundles
    assert sorted(contact.singles) == list(range(len(gaps_ms)))
