"""Slack over Socket Mode (`firebell slack-socket`), end to end on loopback.

`run_socket_mode` (what the CLI runs) asks the Web API for a WebSocket URL
(`apps.connections.open`, app-level token) and connects to it. Here the Web API is the
recording loopback server of the HTTP-mode tests plus that method, and the WebSocket is a
loopback aiohttp server (aiohttp is what slack-sdk's Socket Mode client uses) that talks
like Slack's: `hello` on connect, then envelopes
`{"envelope_id", "type": "slash_commands"|"interactive", "payload", "accepts_response_payload"}`,
each of which the app must acknowledge with `{"envelope_id": ...}` on the socket, then
`disconnect` (refresh_requested), after which the client must fetch a new URL and reconnect.
When the process stops, it closes the socket itself. The second test runs the real
`firebell slack-socket --config FILE` process against the same fakes and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiohttp import WSMsgType, web

from bot.chat.slack import run_socket_mode
from bot.chat.wiring import slack_surface
from bot.config import Settings
from bot.roles import create_app
from routing.response import incidents
from routing.storage.migrate import upgrade
from tests.bot.chat.test_slack import FakeSlack
from tests.support.chat_harness import (
    ALICE_SLACK,
    NOW,
    SIGNING_SECRET,
    SLACK_TOKEN,
    ChatWorld,
    settings_data,
    slack_section,
)
from tests.support.loopback_http import RecordedRequest, Reply
from tests.support.server_process import ServerProcess, free_port

APP_TOKEN = "xapp-1-A111-1-socket-test"  # app-level tokens start with xapp-
WAIT = 10.0  # seconds; generous for a loaded CI machine, never reached when things work


class FakeSlackWebApi(FakeSlack):
    """FakeSlack (chat.postMessage, chat.update, response_url) plus apps.connections.open."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        super().__init__()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/api/apps.connections.open":
            assert request.method == "POST"
            # The app-level token, never the bot token, opens the socket.
            assert request.headers["authorization"] == f"Bearer {APP_TOKEN}"
            return Reply.json({"ok": True, "url": self.ws_url})
        return super().handle(request)

    def connections_opened(self) -> int:
        return sum(r.path == "/api/apps.connections.open" for r in self.server.requests)


class FakeSocketModeServer:
    """Slack's Socket Mode WebSocket endpoint: says hello, sends envelopes, collects acks."""

    def __init__(self) -> None:
        self.url = ""
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected: asyncio.Queue[web.WebSocketResponse] = asyncio.Queue()
        self.socket: web.WebSocketResponse | None = None
        self.close_codes: list[int | None] = []  # one per finished connection
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/link/?ticket=t-1&app_id=A111"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings (autoping)
        await ws.prepare(request)
        assert request.query["ticket"] and request.query["app_id"] == "A111"
        self.socket = ws
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-loopback", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A111"},
            }
        )
        await self.connected.put(ws)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await self.received.put(json.loads(message.data))
        self.close_codes.append(ws.close_code)  # 1000: the client closed it; 1001: we did
        return ws

    async def wait_connected(self) -> web.WebSocketResponse:
        return await asyncio.wait_for(self.connected.get(), WAIT)

    async def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Send one envelope and return the app's acknowledgement of it."""
        assert self.socket is not None
        await self.socket.send_json(envelope)
        return await asyncio.wait_for(self.received.get(), WAIT)


def slash_envelope(fake: FakeSlack, envelope_id: str, text: str) -> dict[str, Any]:
    """A `slash_commands` envelope: the payload is the slash command's form fields."""
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "verification_token",
            "team_id": "T111",
            "team_domain": "test",
            "channel_id": "C0OPS",
            "channel_name": "ops",
            "user_id": ALICE_SLACK,
            "user_name": "alice",
            "command": "/incident",
            "text": text,
            "api_app_id": "A111",
            "is_enterprise_install": "false",
            "response_url": f"{fake.base_url}/respond/commands/T111/1/xyz",
            "trigger_id": "111.111.xxx",
        },
    }


def button_envelope(fake: FakeSlack, envelope_id: str, incident_id: int) -> dict[str, Any]:
    """An `interactive` envelope: an Acknowledge click on a posted incident message."""
    return {
        "envelope_id": envelope_id,
        "type": "interactive",
        "accepts_response_payload": False,
        "payload": {
            "type": "block_actions",
            "user": {"id": ALICE_SLACK, "username": "alice", "name": "alice", "team_id": "T111"},
            "api_app_id": "A111",
            "token": "verification_token",
            "container": {
                "type": "message",
                "message_ts": "1700000000.000042",
                "channel_id": "C0OPS",
                "is_ephemeral": False,
            },
            "trigger_id": "111.222.valid",
            "team": {"id": "T111", "domain": "workspace-domain"},
            "is_enterprise_install": False,
            "channel": {"id": "C0OPS", "name": "ops"},
            "response_url": f"{fake.base_url}/respond/actions/T111/1/abc",
            "actions": [
                {
                    "action_id": "incident_ack",
                    "block_id": f"incident:{incident_id}",
                    "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                    "value": str(incident_id),
                    "type": "button",
                    "action_ts": "1700000001.000100",
                }
            ],
        },
    }


@asynccontextmanager
async def socket_mode_world(
    tmp_path: Path,
) -> AsyncIterator[tuple[ChatWorld, FakeSlackWebApi, FakeSocketModeServer]]:
    """`run_socket_mode` running against the fakes, connected, with a ChatWorld view of it."""
    url = f"sqlite:///{tmp_path}/socket.db"
    upgrade(url)
    socket = FakeSocketModeServer()
    await socket.start()
    fake = FakeSlackWebApi(socket.url)
    section = slack_section(fake.base_url + "/api/", app_token=APP_TOKEN)
    app = create_app(Settings.model_validate(settings_data(url, slack=section)), clock=lambda: NOW)
    rt = app.state.runtime
    runner = asyncio.create_task(run_socket_mode(rt, slack_surface(rt)))
    try:
        # Connected means run_socket_mode is inside the app's lifespan with its handler up;
        # should it fail first, its own error is the one to see.
        connected = asyncio.ensure_future(socket.wait_connected())
        await asyncio.wait({connected, runner}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            connected.cancel()
            raise AssertionError(f"run_socket_mode ended before connecting: {runner.result()!r}")
        await connected
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://firebell") as http:
            yield ChatWorld(app, rt, rt.extras["chat"], http), fake, socket
    finally:
        runner.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, WAIT)
        await socket.stop()
        fake.server.close()


def test_slash_command_and_button_over_socket_mode(tmp_path: Path) -> None:
    async def go() -> None:
        async with socket_mode_world(tmp_path) as (world, fake, socket):
            assert fake.connections_opened() == 1
            iid = await world.incident()

            # A read command: acknowledged on the socket, answered through response_url.
            ack = await socket.send(slash_envelope(fake, "env-list-1", "list"))
            assert ack == {"envelope_id": "env-list-1"}
            await world.settle()
            (listing,) = fake.responses()
            assert listing["response_type"] == "ephemeral"
            assert listing["text"].startswith("Open incidents:\n#1 [critical] triggered · api")

            # A state change: the incident is acknowledged in the database.
            ack = await socket.send(slash_envelope(fake, "env-ack-1", f"ack {iid}"))
            assert ack == {"envelope_id": "env-ack-1"}
            await world.settle()
            assert fake.responses()[1] == {
                "text": f"Incident #{iid} acknowledged by alice · HighErrorRate on api",
                "response_type": "in_channel",
            }
            with world.rt.engine.connect() as conn:
                row = incidents.get_incident(conn, iid)
            assert (row["status"], row["acknowledged_by"]) == ("acknowledged", "alice")

            # Slack refreshes connections now and then: the client must fetch a new URL
            # through apps.connections.open and carry on over the new socket.
            old = socket.socket
            assert old is not None
            await old.send_json(
                {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": "applink-loopback"},
                }
            )
            await socket.wait_connected()
            assert fake.connections_opened() == 2
            assert socket.socket is not old

            # A button on a posted incident message, on the new connection.
            iid2 = await world.incident("DiskFull")
            ack = await socket.send(button_envelope(fake, "env-button-1", iid2))
            assert ack == {"envelope_id": "env-button-1"}
            await world.settle()
            with world.rt.engine.connect() as conn:
                row = incidents.get_incident(conn, iid2)
            assert (row["status"], row["acknowledged_by"]) == ("acknowledged", "alice")
            (update,) = fake.calls("/api/chat.update")  # the message edited in place
            assert (update["channel"], update["ts"]) == ("C0OPS", "1700000000.000042")
            assert update["blocks"][0]["text"]["text"].endswith("[ACKNOWLEDGED] DiskFull on api")
            buttons = next(b for b in update["blocks"] if b["type"] == "actions")["elements"]
            assert "incident_ack" not in [b["action_id"] for b in buttons]
            (thread,) = fake.calls("/api/chat.postMessage")  # the timeline in its thread
            assert thread == {
                "channel": "C0OPS",
                "thread_ts": "1700000000.000042",
                "text": "acknowledged by alice",
            }
            assert len(fake.responses()) == 2  # nothing ephemeral for a good click

            assert socket.received.empty()  # exactly one ack per envelope, nothing else

        # Stopping `firebell slack-socket` closes its socket (and slack-sdk's session)
        # instead of leaving Slack to time it out: both connections ended by the client.
        assert socket.close_codes == [1000, 1000]

    asyncio.run(go())


def test_firebell_slack_socket_command_serves_and_stops_cleanly(tmp_path: Path) -> None:
    """The real `firebell slack-socket --config FILE` process, tokens from the environment as
    in the documented config; SIGTERM (docker stop, systemd) ends it with exit status 0.

    It runs beside a real `firebell serve` with the same config, which has a syslog
    listener: only `serve` listens (a second listener would die on "Address already in
    use"), and `firebell incident list` runs beside both."""

    async def go() -> None:
        url = f"sqlite:///{tmp_path}/cli.db"
        upgrade(url)
        async with ChatWorld.open(settings_data(url)) as world:
            iid = await world.incident()  # a stored incident for the process to act on
        socket = FakeSocketModeServer()
        await socket.start()
        fake = FakeSlackWebApi(socket.url)
        section = {
            "bot_token": "${SLACK_BOT_TOKEN}",
            "signing_secret": "${SLACK_SIGNING_SECRET}",
            "app_token": "${SLACK_APP_TOKEN}",
            "api_url": fake.base_url + "/api/",
            "command": "/incident",
        }
        syslog = {"nginx": {"syslog": {"listen": f"127.0.0.1:{free_port()}"}}}
        config_text = yaml.safe_dump(settings_data(url, slack=section, sources=syslog))
        config = tmp_path / "firebell.yaml"
        config.write_text(config_text)
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
        }
        server = ServerProcess(tmp_path, config_text, env=env, name="serve").start()
        listed = server.cli("incident", "list")
        assert listed.returncode == 0, listed.stderr
        assert f"#{iid}" in listed.stdout
        log = (tmp_path / "slack-socket.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot.cli", "slack-socket", "--config", str(config)),
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=log,
        )
        try:
            await socket.wait_connected()
            ack = await socket.send(slash_envelope(fake, "env-cli-1", f"ack {iid}"))
            assert ack == {"envelope_id": "env-cli-1"}
            # The answer goes out after the ack: wait for it (the process is not ours to drain).
            for _ in range(int(WAIT / 0.05)):
                if fake.responses():
                    break
                await asyncio.sleep(0.05)
            assert fake.responses() == [
                {
                    "text": f"Incident #{iid} acknowledged by alice · HighErrorRate on api",
                    "response_type": "in_channel",
                }
            ]
            with world.rt.engine.connect() as conn:
                row = incidents.get_incident(conn, iid)
            assert (row["status"], row["acknowledged_by"]) == ("acknowledged", "alice")

            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), WAIT) == 0
            assert server.proc is not None and server.proc.poll() is None  # serve is still up
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()
            server.stop()
            await socket.stop()
            fake.server.close()
        assert socket.close_codes == [1000]  # the process closed its socket on the way out
        output = (tmp_path / "slack-socket.log").read_text()
        assert "Traceback" not in output, output
        assert APP_TOKEN not in output and SLACK_TOKEN not in output  # secrets never logged
        assert "Address already in use" not in output + server.log()

    asyncio.run(go())
