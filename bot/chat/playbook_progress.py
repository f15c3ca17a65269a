"""A playbook run's progress in the incident's chat threads, and `chat.post` into them.

Each incident message the outbox posted gets ONE reply per run in its thread, posted at
the run's first change and edited in place afterwards (not one message per step). Where
each reply went is stored on the run (`chat_refs`, keyed "slack:C1:170.1" by the
incident message it answers), so another replica or a restart edits the same reply.
The runner calls `run_changed` from its own thread or loop; the work runs on the chat
loop, where the notifiers' HTTP client lives, one run at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy import select

from bot.chat.sync import CHAT_KINDS, ChatSync, MessageRef, load_incident_messages
from bot.runtime.state import Runtime
from integrations.notifiers import DeliveryOutcome, DeliveryResult, kind_of
from playbooks import run_store
from routing.paging.outbox import NOTIFICATION

log = logging.getLogger("firebell.chat")

T = TypeVar("T")

MESSAGE_BUDGET = 1900  # characters: under Discord's 2000 with room for the clip marker
EXCERPT_LINES = 5  # per finished step
EXCERPT_LINE_CHARS = 200
FINISHED = {"succeeded", "failed", "cancelled"}
# A run may change before the outbox has posted the incident message it replies under
# (an on_open run starts as the incident opens): look again after these waits (seconds).
LOOK_AGAIN = (2.0, 5.0, 15.0, 40.0)
# chat.post waits, as long as the step's timeout lets it, for a queued incident message.
POST_WAIT = 0.2  # seconds between looks


@runtime_checkable
class ThreadMessages(Protocol):
    """A notifier that replies in a message's thread and edits such a reply's text."""

    kind: str

    async def reply(self, message_ref: str, text: str) -> DeliveryResult: ...

    async def edit_text(self, message_ref: str, text: str) -> DeliveryResult: ...


def step_phrase(step: Mapping[str, Any]) -> str | None:
    """ "loki ✓ 200 lines", "es ✗ HTTP 401", "file … running"; None while pending."""
    name, status = step["step_id"], step["status"]
    summary = str(step.get("summary") or "").strip()
    if status == "succeeded":
        return f"{name} ✓ {summary}".rstrip()
    if status in ("waiting", "awaiting_approval"):  # a CI run's status and link; an approval
        return f"{name} … {summary or status.replace('_', ' ')}"
    if status in ("failed", "timed_out", "rejected", "expired"):
        why = str(step.get("error") or "").strip() or summary or status.replace("_", " ")
        return f"{name} ✗ {why.splitlines()[0]}"
    if status == "running":
        return f"{name} … running"
    if status in ("skipped", "cancelled"):
        return f"{name} {status}"
    return None


def _excerpt(text: str) -> str:
    lines = [line[:EXCERPT_LINE_CHARS] for line in text.splitlines() if line.strip()]
    # A log line must not end the code block it is shown in.
    return "\n".join(lines[-EXCERPT_LINES:]).replace("```", "'''")


def progress_text(run: Mapping[str, Any]) -> str:
    """The one progress message: each started step's state, then short excerpts of the
    finished steps' output, as many as fit."""
    head = f"Playbook {run['playbook']} (run #{run['id']}, started by {run['started_by']})"
    steps: Sequence[Mapping[str, Any]] = run.get("steps") or []
    phrases = [p for p in map(step_phrase, steps) if p]
    text = f"{head}: {' · '.join(phrases) if phrases else 'starting'}"
    if run["status"] in FINISHED:
        text += f" — {run['status']}"
    elif run.get("cancel_requested_by"):
        text += f" — cancelling ({run['cancel_requested_by']})"
    for step in steps:
        excerpt = _excerpt(str(step.get("excerpt") or ""))
        if not excerpt or step["status"] in ("pending", "running"):
            continue
        block = f"\n{step['step_id']}:\n```\n{excerpt}\n```"
        if len(text) + len(block) > MESSAGE_BUDGET:
            text += "\n(more: firebell playbook logs " + str(run["id"]) + ")"
            break
        text += block
    return text


class PlaybookProgress:
    def __init__(self, rt: Runtime, sync: ChatSync) -> None:
        self.rt = rt
        self.sync = sync
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self._shown: dict[str, str] = {}  # reply ref -> the text it shows (skips no-op edits)
        self._later: dict[int, asyncio.TimerHandle] = {}

    async def stop(self) -> None:
        for handle in self._later.values():
            handle.cancel()
        self._later.clear()

    # -- hooks (rt.extras["playbook_progress"], rt.extras["playbook_post_chat"]) --------
    def run_changed(self, run_id: int) -> None:
        """Callable from any thread: refresh the run's progress replies."""
        if self._has_threads():  # no chat configured: nothing to show, so no database read
            self.sync.schedule(self.publish(run_id))

    async def post_chat(self, incident_id: int, text: str) -> str:
        """Post `text` into every thread of the incident; where it went ("slack, discord").
        Raises when it is posted nowhere."""
        return await self._on_chat_loop(self._post(incident_id, text))

    # -- work --------------------------------------------------------------------------
    async def publish(self, run_id: int, attempt: int = 0) -> None:
        # One publish per run at a time: two at once would both post a first reply.
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        self._users[run_id] = self._users.get(run_id, 0) + 1
        try:
            async with lock:
                await self._publish(run_id, attempt)
        finally:
            self._users[run_id] -= 1
            if not self._users[run_id]:
                del self._users[run_id], self._locks[run_id]

    async def _publish(self, run_id: int, attempt: int) -> None:
        loaded = await asyncio.to_thread(self._load_run, run_id)
        if loaded is None:
            return
        run, messages = loaded
        if not messages:
            self._look_again(run_id, attempt)
            return
        text = progress_text(run)
        stored: Mapping[str, str] = run.get("chat_refs") or {}
        new: dict[str, str] = {}
        for message in messages:
            notifier = self.sync.chat_notifier(message.kind)
            if not isinstance(notifier, ThreadMessages):
                continue
            key = f"{message.kind}:{message.ref}"
            posted = stored.get(key)
            if posted is not None and self._shown.get(posted) == text:
                continue
            result = None
            if posted is not None:
                result = await notifier.edit_text(posted, text)
                if result.ok:
                    self._remember(posted, text)
            # First time, or the reply is gone for good (deleted): post one (again).
            if result is None or result.outcome is DeliveryOutcome.PERMANENT:
                result = await notifier.reply(message.ref, text)
                if result.ok and result.message_ref:
                    new[key] = result.message_ref
                    self._remember(result.message_ref, text)
            if not result.ok:
                log.warning(
                    "playbook run %s progress not shown in %s: %s", run_id, key, result.detail
                )
        if new:
            await asyncio.to_thread(self._save_refs, run_id, new)

    def _look_again(self, run_id: int, attempt: int) -> None:
        """No incident message yet: try again later (not tracked, so a drain does not
        wait for it), unless a newer change already will."""
        if not self._has_threads() or attempt >= len(LOOK_AGAIN) or run_id in self._later:
            return

        def fire() -> None:
            self._later.pop(run_id, None)
            self.sync.schedule(self.publish(run_id, attempt + 1))

        loop = asyncio.get_running_loop()
        self._later[run_id] = loop.call_later(LOOK_AGAIN[attempt], fire)

    def _has_threads(self) -> bool:
        """Whether a configured chat notifier can show progress in a thread."""
        return any(isinstance(self.sync.chat_notifier(k), ThreadMessages) for k in CHAT_KINDS)

    def _remember(self, ref: str, text: str) -> None:
        if len(self._shown) > 1000:  # only a cache: a forgotten text costs one edit
            self._shown.clear()
        self._shown[ref] = text

    async def _post(self, incident_id: int, text: str) -> str:
        messages, queued = await asyncio.to_thread(self._load_messages, incident_id)
        while not messages and queued:  # the outbox has not posted the incident yet
            await asyncio.sleep(POST_WAIT)
            messages, queued = await asyncio.to_thread(self._load_messages, incident_id)
        posted: list[str] = []
        failed: list[str] = []
        for message in messages:
            notifier = self.sync.chat_notifier(message.kind)
            if notifier is None:
                continue
            result = await notifier.reply(message.ref, text)
            if result.ok:
                posted.append(message.kind)
            else:
                failed.append(result.detail)
        if not posted:
            if failed:
                raise RuntimeError(f"not posted for incident #{incident_id}: {'; '.join(failed)}")
            raise RuntimeError(f"no chat message was posted for incident #{incident_id}")
        return ", ".join(dict.fromkeys(posted))

    async def _on_chat_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.sync.loop
        if loop is None or loop is asyncio.get_running_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    # -- database ----------------------------------------------------------------------
    def _load_run(self, run_id: int) -> tuple[dict[str, Any], list[MessageRef]] | None:
        with self.rt.engine.connect() as conn:
            run = run_store.get_run(conn, run_id)
            if run is None:
                return None
            messages, _incident, _alerts, _note = load_incident_messages(conn, run["incident_id"])
        return run, messages

    def _load_messages(self, incident_id: int) -> tuple[list[MessageRef], bool]:
        """The incident's posted chat messages; and, when there are none, whether the
        outbox still has one to post (pending)."""
        with self.rt.engine.connect() as conn:
            messages = load_incident_messages(conn, incident_id)[0]
            if messages:
                return messages, False
            pending = conn.execute(
                select(NOTIFICATION.c.address).where(
                    NOTIFICATION.c.incident_id == incident_id, NOTIFICATION.c.status == "pending"
                )
            ).scalars()
            return [], any(kind_of(address) in CHAT_KINDS for address in pending)

    def _save_refs(self, run_id: int, refs: dict[str, str]) -> None:
        with self.rt.engine.begin() as conn:
            run_store.set_chat_refs(conn, run_id, refs)
