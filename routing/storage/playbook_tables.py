"""Database tables for playbook runs: a run, its steps, and each step's stored output.

A run is rows, like an escalation: the step to run next is found by `due_at`, a worker
takes the run with a lease (`lease_until`, `lease_owner`; PostgreSQL `FOR UPDATE SKIP
LOCKED`), so two replicas never run one step at once and a restart resumes where the
stored state says. Written by playbooks.run_store only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from routing.storage.tables import UTCDateTime


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class PlaybookRunRow(SQLModel, table=True):
    __tablename__ = "playbook_run"
    __table_args__ = (
        Index("ix_playbook_run_due", "status", "due_at"),
        Index("ix_playbook_run_incident", "incident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    playbook: str = Field(max_length=100)
    playbook_sha256: str = Field(max_length=64)  # of the file as it was when the run began
    trigger: str = Field(max_length=16)  # manual / on_open
    started_by: str = Field(max_length=200)  # the authenticated person, or "firebell"
    params: dict[str, Any] = _json(dict)  # validated, as strings/numbers (JSON)
    status: str = Field(default="running", max_length=16)  # running/succeeded/failed/cancelled
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    # When its next step may run (None once finished), and who holds it until when.
    due_at: datetime | None = _ts(nullable=True)
    lease_until: datetime | None = _ts(nullable=True)
    lease_owner: str = Field(default="", max_length=64)
    cancel_requested_by: str | None = Field(default=None, max_length=200)
    # "on_open:<incident>:<playbook>" for automatic runs: at most one per incident.
    once_key: str | None = Field(default=None, max_length=200, unique=True)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The progress message posted in each chat thread ({"slack": "C1:170.2"}), edited in place.
    chat_refs: dict[str, str] = _json(dict)


class PlaybookStepRow(SQLModel, table=True):
    __tablename__ = "playbook_step"
    __table_args__ = (UniqueConstraint("run_id", "position", name="uq_playbook_step_position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="playbook_run.id")
    position: int  # 0-based, in file order
    step_id: str = Field(max_length=64)
    uses: str = Field(max_length=64)
    # pending/running/awaiting_approval/waiting, then succeeded/failed/skipped/cancelled/
    # timed_out/rejected/expired
    status: str = Field(default="pending", max_length=32)
    attempt: int = 0  # attempts started (a retry or a resume after a crash adds one)
    started_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    excerpt: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    error: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    facts: dict[str, Any] = _json(dict)  # readable by later steps as steps.<id>.<key>
    request: dict[str, Any] = _json(dict)  # the request as sent, credentials redacted
    # Remote steps (CI): exactly once. `dispatch` is "" (not yet), "intent" (committed
    # before sending), "sent" (remote_id known) or "unknown" (ambiguous answer, or a crash
    # after the intent: resolved by finding the run by `correlation_id`, never re-sent).
    correlation_id: str = Field(default="", max_length=128)
    dispatch: str = Field(default="", max_length=16)
    dispatched_at: datetime | None = _ts(nullable=True)
    remote_id: str = Field(default="", max_length=200)
    remote_url: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    remote_status: str = Field(default="", max_length=64)
    conclusion: str = Field(default="", max_length=64)
    wait_until: datetime | None = _ts(nullable=True)  # the `wait.timeout` deadline
    # Approval gate: the hash the current request is bound to, its expiry, the reminder.
    request_hash: str = Field(default="", max_length=64)
    approval_expires_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)


class PlaybookOutputRow(SQLModel, table=True):
    """A step's output lines: capped and redacted before they are stored."""

    __tablename__ = "playbook_output"

    step_row_id: int = Field(primary_key=True, foreign_key="playbook_step.id")
    text: str = Field(sa_column=Column(Text, nullable=False))  # lines joined by "\n"
    line_count: int = 0  # lines kept
    cut_lines: int = 0  # lines fetched but not kept (over the cap)
    cut_bytes: int = 0


class PlaybookApprovalRow(SQLModel, table=True):
    """One person's decision on a step's approval request, bound to the request's hash:
    a decision on an earlier (void) request does not count for the current one."""

    __tablename__ = "playbook_approval"
    __table_args__ = (
        UniqueConstraint(
            "step_row_id", "approver", "request_hash", name="uq_playbook_approval_decision"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    step_row_id: int = Field(foreign_key="playbook_step.id", index=True)
    approver: str = Field(max_length=200)
    decision: str = Field(max_length=16)  # approved / rejected
    surface: str = Field(max_length=16)  # slack / discord / cli / api
    at: datetime = _ts()
    request_hash: str = Field(max_length=64)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
