"""Sentry `comment` webhooks (created, updated, deleted on an issue) as remarks for the
timeline of the incident holding that issue's alert, said by the Sentry actor
("sentry:<name>"), never by a firebell user. Wire format: the Integration Platform's
comments resource, `{action, data: {comment, comment_id, issue_id, project_slug,
timestamp}, actor: {type, id, name}}`."""

from __future__ import annotations

from typing import Any

from integrations.sources.base import ParseResult, PayloadError
from integrations.sources.payload import brief, optional_id, optional_object, optional_str
from integrations.sources.sentry_alert import ISSUE_IDENTITY, required_id, short
from routing.intake.fingerprint import fingerprint_of
from routing.intake.submission import SourceComment

# The timeline shows the author beside the message ("sentry:colleen: Sentry comment ...").
_WHAT = {
    "created": "Sentry comment",
    "updated": "Sentry comment edited",
    "deleted": "Sentry comment deleted",
}
AUTHOR_PREFIX = "sentry:"
MAX_AUTHOR = 120  # the actor column holds 200; the name is sender-controlled


def parse_comment(action: str, data: dict[str, Any], actor: Any) -> ParseResult:
    what = _WHAT.get(action)
    if what is None:
        return ParseResult([], note=f"recorded sentry comment.{short(action)}")
    issue_id = required_id(data, "issue_id", "data.issue_id")
    text = data.get("comment")
    if text is not None and not isinstance(text, str):
        raise PayloadError("data.comment", f"expected a string, got {brief(text)}")
    if not text and action != "deleted":
        raise PayloadError("data.comment", "missing: a comment needs its text")
    author = sentry_author(optional_object({"actor": actor}, "actor", "actor"))
    fields = {"issue_id": issue_id}
    details = {"source": "sentry", "action": action, "issue_id": issue_id}
    comment_id = optional_id(data, "comment_id", "data.comment_id")
    if comment_id:
        details["comment_id"] = comment_id
    project = optional_str(data, "project_slug", "data.project_slug")
    where = f"issue {issue_id}" + (f" ({project})" if project else "")
    message = f"{what} on {where}" + (f": {text}" if text else "")
    comment = SourceComment(fingerprint_of(ISSUE_IDENTITY, fields), author, message, details)
    return ParseResult([], note=f"recorded sentry comment.{action}", comments=[comment])


def sentry_author(actor: dict[str, Any]) -> str:
    """ "sentry:colleen"; the actor's type and id when it has no name ("sentry:user:1"),
    "sentry:unknown" when Sentry names nobody. One line, bounded."""
    name = optional_str(actor, "name", "actor.name")
    if name is None:
        kind = optional_str(actor, "type", "actor.type") or "unknown"
        ident = optional_id(actor, "id", "actor.id")
        name = f"{kind}:{ident}" if ident else kind
    one_line = " ".join(name.split())
    return AUTHOR_PREFIX + (one_line[:MAX_AUTHOR] or "unknown")
