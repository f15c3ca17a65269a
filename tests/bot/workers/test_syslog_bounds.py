"""The syslog listener under a flood, on SQLite and PostgreSQL, over real UDP and TCP
sockets: a line that finds the syslog lane full is dropped and counted, every other line
is stored (nothing in between), TCP waits for room instead of dropping, and the listener's
heartbeat stops once its sockets are gone.

The writer is held mid-batch by an in-transaction hook (the hook API routing uses), so
the lane fills deterministically."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.roles import build_runtime
from bot.runtime.heartbeats import unready_parts
from bot.runtime.state import SERVE_NO_WORKERS, Runtime
from bot.workers.syslog_listener import LISTENER
from routing.storage.tables import InboxEntry
from tests.support.server_process import free_port

LINE = (
    "{day} 09:05:07 [error] 41#41: *{conn} connect() failed (111: Connection refused) while"
    ' connecting to upstream, client: 192.0.2.4, server: api.example, request: "GET / HTTP/1.1",'
    ' upstream: "http://10.0.0.9:9000/", host: "api.example"'
)


def datagram(i: int) -> bytes:
    return f"<187>Mar  1 09:05:07 web1 nginx: {LINE.format(day='2026/03/01', conn=i)}".encode()


class Gate:
    def __init__(self) -> None:
        self.closed = True
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, *_args: Any) -> None:
        if self.closed:
            self.entered.set()
            assert self.opened.wait(30)

    def open(self) -> None:
        self.closed = False
        self.opened.set()


@asynccontextmanager
async def running(database_url: str, port: int, room: int) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=database_url,
        sources={"nginx": {"syslog": {"listen": f"127.0.0.1:{port}"}}},
        intake={"syslog_queue_size": room},
    )
    rt = build_runtime(settings, SERVE_NO_WORKERS, migrate_sqlite=False)
    async with rt.lifecycle.running():
        yield rt


def stored(rt: Runtime) -> int:
    with rt.read_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(InboxEntry)).scalar_one())


def dropped(rt: Runtime, reason: str = "intake_full") -> float:
    value = rt.metrics.registry.get_sample_value("firebell_dropped_total", {"reason": reason})
    return value or 0.0


async def eventually(check: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_udp_flood_beyond_the_lane_is_dropped_and_counted_and_the_rest_stored(
    database_url: str,
) -> None:
    port, sent, room = free_port(), 300, 10

    async def scenario() -> None:
        async with running(database_url, port, room) as rt:
            gate = Gate()
            rt.intake.in_transaction.append(gate)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(datagram(0), ("127.0.0.1", port))
                assert await asyncio.to_thread(gate.entered.wait, 10)
                for i in range(1, sent):
                    udp.sendto(datagram(i), ("127.0.0.1", port))
                    if i % 20 == 0:
                        await asyncio.sleep(0.005)  # let the loop read the socket
            await eventually(lambda: dropped(rt) + rt.intake.queue.depth_total() >= sent - 5)
            assert rt.intake.queue.depth_total() == room  # the lane never held more
            gate.open()
            await eventually(lambda: stored(rt) + dropped(rt) == sent)
            assert dropped(rt) >= sent - room - 5  # the held batch took a few at most

    asyncio.run(scenario())


def test_tcp_lines_wait_for_room_instead_of_being_dropped(database_url: str) -> None:
    port, sent, room = free_port(), 40, 5

    async def scenario() -> None:
        async with running(database_url, port, room) as rt:
            gate = Gate()
            rt.intake.in_transaction.append(gate)
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(datagram(i) + b"\n" for i in range(sent)))
            await writer.drain()
            await asyncio.to_thread(gate.entered.wait, 10)
            await asyncio.sleep(0.3)
            assert rt.intake.queue.depth_total() <= room
            gate.open()
            await eventually(lambda: stored(rt) == sent)
            assert dropped(rt) == 0
            writer.close()

    asyncio.run(scenario())


def test_the_listener_beats_while_its_sockets_are_open_and_is_dead_once_closed(
    database_url: str,
) -> None:
    port = free_port()

    async def scenario() -> None:
        async with running(database_url, port, 10) as rt:
            listener = rt.extras["syslog"]
            (beat,) = [b for b in rt.heartbeats.snapshot() if b.name == LISTENER]
            assert unready_parts([beat], beat.last, 1.0) == {}
            listener.udp.close()  # the socket is gone (as after an error)
            await asyncio.sleep(1.2)
            now = asyncio.get_running_loop().time()
            (beat,) = [b for b in rt.heartbeats.snapshot() if b.name == LISTENER]
            assert unready_parts([beat], now, 10.0) == {LISTENER: "dead"}

    asyncio.run(scenario())


def test_a_queued_line_the_writer_fails_to_store_is_counted_dropped(database_url: str) -> None:
    port = free_port()

    def refuse(*_args: Any) -> None:
        raise RuntimeError("refused in the transaction")

    async def scenario() -> None:
        async with running(database_url, port, 10) as rt:
            rt.intake.in_transaction.append(refuse)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(datagram(1), ("127.0.0.1", port))
            await eventually(lambda: dropped(rt, "store_failed") == 1)
            assert stored(rt) == 0 and dropped(rt) == 0  # not for want of room

    asyncio.run(scenario())
