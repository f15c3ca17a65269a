"""Inhibition rules with Alertmanager semantics: a firing source alert mutes matching targets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from routing.muting.matcher import MatcherList, matches


class InhibitRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_matchers: MatcherList = Field(min_length=1)
    target_matchers: MatcherList = Field(min_length=1)
    equal: list[str] = []  # labels that must have the same value (or be absent) on both


def _equal(rule: InhibitRule, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
    # A missing label reads as "", so missing on both sides counts as equal, as in Alertmanager.
    return all(source.get(name, "") == target.get(name, "") for name in rule.equal)


def inhibited_by(
    rules: Sequence[InhibitRule],
    target_labels: Mapping[str, str],
    firing_alerts_labels: Iterable[Mapping[str, str]],
) -> tuple[InhibitRule, Mapping[str, str]] | None:
    """The rule and firing source alert that inhibit the target, or None.

    `firing_alerts_labels` are the labels of currently firing alerts (the target itself
    may be among them). As in Alertmanager, when the target matches a rule's source side
    too, sources that also match the target side are skipped: two alerts matching both
    sides never inhibit each other, and an alert never inhibits itself.
    """
    firing = list(firing_alerts_labels)
    for rule in rules:
        if not matches(rule.target_matchers, target_labels):
            continue
        two_sided = matches(rule.source_matchers, target_labels)
        for source in firing:
            if not matches(rule.source_matchers, source) or not _equal(rule, source, target_labels):
                continue
            if two_sided and matches(rule.target_matchers, source):
                continue
            return rule, source
    return None
