"""Approvals in the incident's chat threads: the request with Approve / Reject buttons,
kept up to date (N of M, then how it ended, with Request again after an expiry), the
reminder before the expiry, and the clicks.

The runner reports each change of a run (rt.extras["playbook_progress"]); a step in
`awaiting_approval` gets one message per incident thread, edited in place afterwards.
Where each went is stored on the run (`chat_refs`, "approval:<step>:<kind>:<ref>"), so
another replica edits the same message; the reminder's key carries the request hash, so
it is posted once per request. A click is a verified interaction (the Slack signature,
Discord's Ed25519) of a chat account mapped to a firebell user; whether that user may
decide is checked by the service at the click, never by the message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.chat.approval_render import (
    HASH_SHOWN,
    Click,
    Shown,
    approval_text,
    discord_approval_components,
    reminder_text,
    slack_approval_blocks,
)
from bot.chat.sync import CHAT_KINDS, ChatSync, MessageRef, load_incident_messages
from bot.runtime.state import Runtime
from integrations.notifiers.base import DeliveryResult, split_message_ref
from integrations.notifiers.discord_embed import DISCORD_CONTENT_LIMIT
from integrations.notifiers.discord_rest import DiscordNotifier
from integrations.notifiers.message import clip
from integrations.notifiers.slack import SlackNotifier
from integrations.notifiers.slack_blocks import SLACK_FALLBACK_LIMIT, slack_escape
from playbooks import approval_rules, approval_store, run_store
from playbooks.approvals_service import AWAITING, ApprovalRefused, approval_of, decision_text
from playbooks.model import Approval
from playbooks.outputs import Redactor
from playbooks.service import PlaybookRefused, PlaybookService
from routing.oncall.people import role_allows
from routing.paging.policy import PolicyConfig

log = logging.getLogger("firebell.chat")

# How a step that waited for approval ended, as the message says it.
AFTER = {"expired": "expired", "rejected": "rejected", "cancelled": "cancelled"}


def state_of(step: Mapping[str, Any]) -> str:
    """awaiting while it waits; else expired / rejected / cancelled, or approved (the step
    went on: dispatched, running, finished)."""
    if step["status"] == AWAITING:
        return "awaiting"
    return AFTER.get(step["status"], "approved")


class ApprovalChat:
    def __init__(self, rt: Runtime, sync: ChatSync) -> None:
        self.rt = rt
        self.sync = sync
        self._locks: dict[int, asyncio.Lock] = {}
        self._shown: dict[str, str] = {}  # message ref -> the text it shows

    def _redactor(self) -> Redactor:
        catalog = self.rt.extras.get("playbook_catalog") or self.rt.settings.catalog
        return Redactor(catalog.secrets)

    def run_changed(self, run_id: int) -> None:
        """Callable from any thread: post or refresh the run's approval messages."""
        if any(self._notifier(kind) is not None for kind in CHAT_KINDS):
            self.sync.schedule(self.publish(run_id))

    def _notifier(self, kind: str) -> SlackNotifier | DiscordNotifier | None:
        found = self.sync.chat_notifier(kind)
        return found if isinstance(found, SlackNotifier | DiscordNotifier) else None

    # -- messages ----------------------------------------------------------------------
    async def publish(self, run_id: int) -> None:
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:  # one at a time per run: two would both post a first message
            loaded = await asyncio.to_thread(self._load, run_id)
            if loaded is None:
                return
            refs, messages, views = loaded
            new: dict[str, str] = {}
            for shown, reminded, mentions in views:
                for message in messages:
                    new.update(await self._show(refs, message, shown, reminded, mentions))
            if new:
                await asyncio.to_thread(self._save_refs, run_id, new)

    async def _show(
        self,
        refs: Mapping[str, str],
        message: MessageRef,
        shown: Shown,
        reminded: bool,
        mentions: Mapping[str, list[str]],
    ) -> dict[str, str]:
        notifier = self._notifier(message.kind)
        if notifier is None:
            return {}
        new: dict[str, str] = {}
        key = f"approval:{shown.step_id}:{message.kind}:{message.ref}"
        posted = refs.get(key)
        # The stored request is redacted already; the message is scrubbed once more, as
        # excerpts and request bodies are what a thread must never leak a secret through.
        text = self._redactor().text(approval_text(shown))
        if posted is None and shown.state == "awaiting":
            result = await _send(notifier, message.ref, None, text, shown)
            if result.ok and result.message_ref:
                new[key] = result.message_ref
                self._shown[result.message_ref] = text
            else:
                log.warning("approval request not posted in %s: %s", key, result.detail)
        elif posted is not None and self._shown.get(posted) != text:
            result = await _send(notifier, message.ref, posted, text, shown)
            if result.ok:
                self._shown[posted] = text
        remind_key = f"remind:{shown.step_id}:{shown.request_hash[:HASH_SHOWN]}:{key}"
        if reminded and shown.state == "awaiting" and remind_key not in refs:
            line = reminder_text(shown, mentions.get(message.kind, []))
            result = await _remind(notifier, message.ref, line, mentions.get(message.kind, []))
            if result.ok:
                new[remind_key] = result.message_ref or "posted"
        return new

    # -- clicks ------------------------------------------------------------------------
    async def click(self, click: Click, user: str | None, surface: str) -> tuple[bool, str]:
        """A verified click of `user` (None: an unlinked chat account); (ok, the answer
        for the presser). The message itself is refreshed from the rows afterwards."""
        service: PlaybookService | None = self.rt.extras.get("playbook_service")
        if service is None:
            return False, "playbooks are not available in this process"
        try:
            if click.action == "again":
                return await asyncio.to_thread(self._again, service, click, user)
            step_id = await asyncio.to_thread(self._step_shown, click)
            decision = "approved" if click.action == "approve" else "rejected"
            result = await asyncio.to_thread(
                service.decide, click.run_id, decision, user, self.rt.settings,
                step_id=step_id, surface=surface,
            )  # fmt: skip
        except (PlaybookRefused, ApprovalRefused) as exc:
            return False, exc.message
        self.run_changed(click.run_id)
        return True, decision_text(result)

    def _step_shown(self, click: Click) -> str | None:
        """The step the clicked message asks about. A click on a message that shows an
        older request than the step's current one (voided since: the file or the rendered
        request changed) decides nothing."""
        with self.rt.engine.connect() as conn:
            run = run_store.get_run(conn, click.run_id)
        if run is None:
            return click.step_id  # the service answers "not found"
        if click.step_id is not None:
            step = next((s for s in run["steps"] if s["step_id"] == click.step_id), None)
            if step is None:
                return click.step_id  # the service names the missing step
        else:  # a Discord custom_id with no room for the step id: the hash names it
            step = next(
                (s for s in run["steps"] if click.hash_prefix and s["request_hash"]
                 and s["request_hash"].startswith(click.hash_prefix)),
                None,
            )  # fmt: skip
        if step is None or not str(step["request_hash"]).startswith(click.hash_prefix):
            raise ApprovalRefused(
                "step",
                "this message shows an earlier request, voided since (the playbook or the "
                "rendered request changed); decide on the newer message in the thread",
                409,
            )
        return str(step["step_id"])

    def _again(self, service: PlaybookService, click: Click, user: str | None) -> tuple[bool, str]:
        people = self.rt.settings
        if user is None:
            return (
                False,
                "your chat account is not linked to a firebell user, so it cannot start runs",
            )
        role = people.users_by_name[user].role
        if not role_allows(role, "responder"):
            return False, f"starting a run needs the responder role; {user} is a {role}"
        run, new = service.request_again(click.run_id, user)
        if not new:
            return False, (
                f"playbook {run['playbook']} was asked again already: run #{run['id']} "
                f"({run['started_by']})"
            )
        return True, f"started playbook {run['playbook']} again as run #{run['id']} ({user})"

    # -- database ----------------------------------------------------------------------
    def _load(
        self, run_id: int
    ) -> (
        tuple[dict[str, str], list[MessageRef], list[tuple[Shown, bool, dict[str, list[str]]]]]
        | None
    ):
        people = self.rt.settings
        catalog = self.rt.extras.get("playbook_catalog") or people.catalog
        now = self.rt.clock()
        with self.rt.engine.connect() as conn:
            run = run_store.get_run(conn, run_id)
            if run is None:
                return None
            refs: dict[str, str] = dict(run.get("chat_refs") or {})
            views = []
            for step in run["steps"]:
                posted = any(k.startswith(f"approval:{step['step_id']}:") for k in refs)
                if step["status"] != AWAITING and not posted:
                    continue
                try:
                    rule = approval_of(catalog, run, step)
                except ApprovalRefused:
                    continue
                decisions = approval_store.decisions(conn, step["id"])
                views.append(_view(run, step, rule, decisions, people, now))
            if not views:
                return None
            messages = load_incident_messages(conn, run["incident_id"])[0]
        return refs, messages, views

    def _save_refs(self, run_id: int, refs: dict[str, str]) -> None:
        with self.rt.engine.begin() as conn:
            run_store.set_chat_refs(conn, run_id, refs)


def _view(
    run: Mapping[str, Any],
    step: Mapping[str, Any],
    rule: Approval,
    decisions: list[dict[str, Any]],
    people: PolicyConfig,
    now: datetime,
) -> tuple[Shown, bool, dict[str, list[str]]]:
    requester = run["started_by"]
    expires = step["approval_expires_at"] or now
    approved_by, required = approval_rules.tally(
        rule, decisions, requester, step["request_hash"], expires
    )
    counted = approval_rules.current(decisions, requester, step["request_hash"], expires)
    rejecters = [d["approver"] for d in counted if d["decision"] == "rejected"]
    state = state_of(step)
    decided = ""
    if state == "rejected" and rejecters:
        decided = f"rejected by {', '.join(rejecters)}"
    elif state == "approved" and approved_by:
        decided = f"approved by {', '.join(approved_by)}"
    by_step = {s["step_id"]: s for s in run["steps"]}
    outputs = []
    for name in rule.show:
        other = by_step.get(name)
        if other is not None:
            outputs.append((name, str(other["excerpt"] or other["summary"] or other["status"])))
    shown = Shown(
        playbook=run["playbook"], run_id=run["id"], step_id=step["step_id"],
        started_by=requester, request=step["request"] or {},
        request_hash=step["request_hash"], outputs=outputs,
        who_may=approval_rules.who_may_approve(rule, requester, people, now),
        approved_by=approved_by, required=required, expires_at=step["approval_expires_at"],
        state=state, decided=decided,
    )  # fmt: skip
    users = [u for u in approval_rules.eligible(rule, requester, people, now)
             if u not in approved_by]  # fmt: skip
    by_name = people.users_by_name
    mentions = {
        "slack": [f"<@{by_name[u].slack_id}>" for u in users if by_name[u].slack_id],
        "discord": [f"<@{by_name[u].discord_id}>" for u in users if by_name[u].discord_id],
    }
    return shown, step["reminded_at"] is not None, mentions


async def _send(
    notifier: SlackNotifier | DiscordNotifier,
    thread_ref: str,
    posted: str | None,
    text: str,
    shown: Shown,
) -> DeliveryResult:
    """Post the approval message under the incident message, or edit `posted`."""
    try:
        channel, ts = split_message_ref(posted or thread_ref)
    except ValueError as exc:
        return DeliveryResult.permanent(str(exc))
    if isinstance(notifier, SlackNotifier):
        escaped = clip(slack_escape(text), SLACK_FALLBACK_LIMIT)
        body: dict[str, Any] = {
            "channel": channel, "text": escaped, "blocks": slack_approval_blocks(escaped, shown),
        }  # fmt: skip
        if posted is None:
            return await notifier.call("chat.postMessage", {**body, "thread_ts": ts})
        return await notifier.call("chat.update", {**body, "ts": ts})
    data = {
        "content": clip(text, DISCORD_CONTENT_LIMIT),
        "components": discord_approval_components(shown),
        "allowed_mentions": {"parse": []},
    }
    if posted is None:
        data["message_reference"] = {"message_id": ts, "fail_if_not_exists": False}
        return await notifier.call("POST", f"/channels/{channel}/messages", data)
    return await notifier.call("PATCH", f"/channels/{channel}/messages/{ts}", data)


async def _remind(
    notifier: SlackNotifier | DiscordNotifier, thread_ref: str, text: str, mentions: list[str]
) -> DeliveryResult:
    """A reply that does mention the approvers (the only message here that pings)."""
    try:
        channel, ts = split_message_ref(thread_ref)
    except ValueError as exc:
        return DeliveryResult.permanent(str(exc))
    if isinstance(notifier, SlackNotifier):
        # Escaped except the mentions, which Slack must see as <@U…> to notify.
        plain = text
        for mention in mentions:
            plain = plain.replace(mention, "\0")
        escaped = slack_escape(plain)
        for mention in mentions:
            escaped = escaped.replace("\0", mention, 1)
        body = {"channel": channel, "thread_ts": ts, "text": clip(escaped, SLACK_FALLBACK_LIMIT)}
        return await notifier.call("chat.postMessage", body)
    ids = [m.removeprefix("<@").removesuffix(">") for m in mentions]
    data = {
        "content": clip(text, DISCORD_CONTENT_LIMIT),
        "message_reference": {"message_id": ts, "fail_if_not_exists": False},
        "allowed_mentions": {"parse": [], "users": ids[:100]},
    }
    return await notifier.call("POST", f"/channels/{channel}/messages", data)
