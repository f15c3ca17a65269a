"""The intake writer's queue is bounded and no request waits past its timeout, on SQLite
and PostgreSQL: a full lane refuses at once, a request that gives up before the writer
takes it is never written, one that gives up after is written exactly once however its
sender retries, requests go before syslog lines, and a dead writer is refused at once.

The writer is held mid-batch by an in-transaction hook (the same hook API routing uses)
that waits on an event: a real stalled commit, with nothing mocked."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import Connection, func, select

from bot.config import Settings
from bot.runtime.heartbeats import Heartbeats, unready_parts
from bot.runtime.intake_writer import (
    WRITER,
    Intake,
    IntakeFull,
    IntakeLimits,
    IntakeTimeout,
    WriterDown,
)
from bot.runtime.state import intake_limits, utc_now
from integrations.sources import SOURCES, SourceOptions
from routing.intake.submission import BatchOutcome, IngestPolicy, Submission
from routing.storage.database import make_engine
from routing.storage.tables import InboxEntry

INBOX = InboxEntry.__table__


class Gate:
    """An in-transaction hook that holds the writer inside its batch while closed."""

    def __init__(self) -> None:
        self.closed = False
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.batches: list[list[int | None]] = []  # inbox ids per committed batch

    def close(self) -> None:
        self.closed, self.entered, self.opened = True, threading.Event(), threading.Event()

    def open(self) -> None:
        self.closed = False
        self.opened.set()

    def __call__(self, _conn: Connection, outcome: BatchOutcome, _now: object) -> None:
        self.batches.append([s.inbox_id for s in outcome.submissions])
        if self.closed:
            self.entered.set()
            assert self.opened.wait(30), "the test never opened the gate"


def generic(title: str) -> Submission:
    body = json.dumps({"title": title, "severity": "warning", "service": "api"}).encode()
    result = SOURCES["generic"].parse(body, {"content-type": "application/json"}, SourceOptions())
    return Submission("generic", result.alerts, body, "application/json")


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def make_intake(database_url: str, gate: Gate) -> Iterator[Callable[[float], Intake]]:
    """An intake with room for 2 requests and 3 syslog lines, syslog batches of 2 at
    most, and the given request timeout."""
    started: list[Intake] = []

    def make(request_timeout: float) -> Intake:
        limits = IntakeLimits(
            queue_size=2, syslog_queue_size=3, request_timeout=request_timeout, syslog_per_batch=2
        )
        engine = make_engine(database_url)
        writer = Intake(engine, IngestPolicy(), utc_now, limits=limits, in_transaction=[gate])
        writer.start(Heartbeats())
        started.append(writer)
        return writer

    yield make
    gate.open()
    for writer in started:
        writer.stop()
        writer.engine.dispose()


def inbox_rows(intake: Intake) -> int:
    with intake.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(INBOX)).scalar_one())


async def hold_writer(intake: Intake, gate: Gate) -> asyncio.Task[object]:
    """Start a submission and return once the writer is stuck inside its batch."""
    gate.close()
    task: asyncio.Task[object] = asyncio.ensure_future(intake.submit(generic("held")))
    assert await asyncio.to_thread(gate.entered.wait, 10)
    return task


def test_a_full_request_lane_refuses_at_once_and_loses_nothing_queued(
    make_intake: Callable[[float], Intake], gate: Gate
) -> None:
    intake = make_intake(30)

    async def scenario() -> None:
        held = await hold_writer(intake, gate)
        queued = [asyncio.ensure_future(intake.submit(generic(f"q{i}"))) for i in range(2)]
        await asyncio.sleep(0.01)  # both are in the queue now
        with pytest.raises(IntakeFull):
            await intake.submit(generic("one too many"))
        gate.open()
        results = await asyncio.gather(held, *queued)
        assert len({r.inbox_id for r in results}) == 3
        assert inbox_rows(intake) == 3  # all that was queued, not the refused one

    asyncio.run(scenario())


def test_a_request_that_times_out_while_queued_is_never_written(
    make_intake: Callable[[float], Intake], gate: Gate
) -> None:
    intake = make_intake(0.3)

    async def scenario() -> None:
        held = await hold_writer(intake, gate)
        with pytest.raises(IntakeTimeout):
            await intake.submit(generic("waits behind the stalled batch"))
        gate.open()
        with pytest.raises(IntakeTimeout):
            await held
        await asyncio.to_thread(intake.stop)
        assert inbox_rows(intake) == 1  # only the batch the writer had taken

    asyncio.run(scenario())


def test_the_retry_of_a_request_that_timed_out_after_it_was_taken_is_written_once(
    make_intake: Callable[[float], Intake], gate: Gate
) -> None:
    intake = make_intake(0.3)

    async def scenario() -> None:
        held = await hold_writer(intake, gate)
        with pytest.raises(IntakeTimeout):
            await held  # the writer has it: an orphan, written once the gate opens
        # The sender retries while it is still being written: it follows the orphan...
        following = asyncio.ensure_future(intake.submit(generic("held")))
        await asyncio.sleep(0.05)
        gate.open()
        first = await following
        assert first.inbox_id == gate.batches[0][0]
        assert inbox_rows(intake) == 1
        # The retry got its answer: a later identical body is new, and written.
        again = await intake.submit(generic("held"))
        assert again.inbox_id != first.inbox_id
        assert inbox_rows(intake) == 2

    asyncio.run(scenario())


def test_a_retry_after_the_orphan_was_written_gets_its_outcome_without_writing(
    make_intake: Callable[[float], Intake], gate: Gate
) -> None:
    intake = make_intake(0.3)

    async def scenario() -> None:
        held = await hold_writer(intake, gate)
        with pytest.raises(IntakeTimeout):
            await held
        gate.open()
        for _ in range(250):
            if inbox_rows(intake) == 1:
                break
            await asyncio.sleep(0.02)
        retry = await intake.submit(generic("held"))
        assert retry.inbox_id == gate.batches[0][0]
        assert inbox_rows(intake) == 1
        # Used once: the next identical body is new.
        assert (await intake.submit(generic("held"))).inbox_id != retry.inbox_id

    asyncio.run(scenario())


def test_requests_go_before_syslog_lines_and_a_full_syslog_lane_refuses(
    make_intake: Callable[[float], Intake], gate: Gate
) -> None:
    intake = make_intake(30)

    async def scenario() -> None:
        held = await hold_writer(intake, gate)
        lines = [intake.offer(generic(f"line {i}")) for i in range(3)]
        with pytest.raises(IntakeFull):
            intake.offer(generic("line dropped"))
        request = asyncio.ensure_future(intake.submit(generic("webhook after the lines")))
        await asyncio.sleep(0.01)
        gate.open()
        await held
        answered = await request
        stored = [await asyncio.wrap_future(f) for f in lines]
        # The request queued last was committed first, in a batch of its own; the lines
        # after it, in batches of at most syslog_per_batch.
        assert answered.inbox_id is not None
        assert all(s.inbox_id is not None and s.inbox_id > answered.inbox_id for s in stored)
        assert gate.batches[1] == [answered.inbox_id]
        assert sorted(len(batch) for batch in gate.batches[2:]) == [1, 2]

    asyncio.run(scenario())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_is_refused_at_once_and_shown_dead(database_url: str) -> None:
    def die(_conn: Connection, _outcome: BatchOutcome, _now: object) -> None:
        raise SystemExit  # what no `except Exception` catches: the thread ends

    heartbeats = Heartbeats()
    limits = IntakeLimits(request_timeout=0.3)
    writer = Intake(
        make_engine(database_url), IngestPolicy(), utc_now, limits=limits, in_transaction=[die]
    )
    writer.start(heartbeats)

    async def scenario() -> None:
        with pytest.raises(IntakeTimeout):
            await writer.submit(generic("kills the writer"))
        with pytest.raises(WriterDown):
            await writer.submit(generic("after"))
        with pytest.raises(WriterDown):
            writer.offer(generic("a syslog line"))

    try:
        asyncio.run(scenario())
        (beat,) = heartbeats.snapshot()
        assert unready_parts([beat], beat.last, stall_after=60) == {WRITER: "dead"}
    finally:
        writer.stop()
        writer.engine.dispose()


def test_the_config_intake_section_sets_the_limits() -> None:
    settings = Settings(
        intake={
            "queue_size": 7,
            "syslog_queue_size": 9,
            "syslog_batch": 4,
            "request_timeout": "1500ms",
        }
    )
    assert intake_limits(settings) == IntakeLimits(
        queue_size=7, syslog_queue_size=9, request_timeout=1.5, syslog_per_batch=4
    )
    with pytest.raises(ValidationError, match="at least 2s"):
        Settings(intake={"stall_after": "1s"})
