"""execute(): every command against a real database (SQLite and PostgreSQL), replies,
visibility, permissions for unknown chat users, silences, paging by hand, escalations."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import select

from bot.chat.context import command_context
from bot.commands import (
    Actor,
    Command,
    CommandError,
    Reply,
    Unsilence,
    execute,
    parse_command,
)
from bot.runtime.intake_writer import IntakeFull
from bot.workers.paging_worker import install_paging
from routing.oncall.schedule import oncall_at
from routing.paging.escalation_steps import run_due_escalations
from routing.paging.escalation_store import escalations_of
from routing.paging.outbox import notifications_of
from routing.response import incidents
from routing.storage.paging_tables import SilenceRow
from tests.support.chat_harness import ALICE_SLACK, NOW, ChatWorld, alert, settings_data

ALICE = Actor("alice", "slack", ALICE_SLACK, "alice")
STRANGER = Actor(None, "slack", "U0STRANGER", "mallory")
SILENCE = SilenceRow.metadata.tables["silence"]


def paging_config(database_url: str, **extra: Any) -> dict[str, Any]:
    return settings_data(
        database_url,
        escalation_policies=[
            {"name": "default", "steps": [{"notify": ["schedule:primary"], "wait": "10m"}]}
        ],
        route={"receiver": {"escalation": "default"}},
        silences=[{"matchers": ['service="batch"'], "recurrence": {"weekdays": ["sunday"]}}],
        **extra,
    )


async def call(world: ChatWorld, text: str, actor: Actor = ALICE) -> Reply:
    command = parse_command(text)
    assert not isinstance(command, CommandError), command
    return await execute(command, actor, command_context(world.rt, actor.surface))


def with_world(database_url: str, body: Any, **extra: Any) -> None:
    async def go() -> None:
        changes: list[tuple[int, str]] = []

        def install(app: Any, rt: Any) -> None:
            install_paging(rt, background=False)
            rt.extras["incident_changed"].append(lambda i, a: changes.append((i, a)))

        async with ChatWorld.open(paging_config(database_url, **extra), install=install) as world:
            await body(world, changes)

    asyncio.run(go())


def test_read_commands(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        first = await world.incident("HighErrorRate", "api")
        await world.incident("DiskFull", "db")

        reply = await call(world, "list")
        assert (reply.visibility, reply.ok, reply.changed) == ("ephemeral", True, False)
        lines = reply.text.splitlines()
        assert lines[0] == "Open incidents:"
        assert lines[1].startswith("#2 [critical] triggered · db · DiskFull on db (1 alert")
        assert lines[2].startswith(f"#{first} [critical] triggered · api · HighErrorRate on api")

        assert (await call(world, "list api")).text.splitlines()[1:] == lines[2:]
        assert (await call(world, "list resolved")).text == "No resolved incidents."
        assert (await call(world, "list all web")).text == "No incidents for service web."

        shown = await call(world, f"show {first}")
        assert shown.visibility == "ephemeral" and shown.incident_id == first
        # Times are shown in the reader's zone (alice: Europe/Madrid).
        assert "Opened: 2026-03-02 11:00 CET" in shown.text
        assert "- [firing] HighErrorRate on api on node-1 (alertmanager, 1 time)" in shown.text
        assert "incident opened by alertmanager: HighErrorRate on api" in shown.text

        missing = await call(world, "show 99")
        assert (missing.ok, missing.text) == (False, "no incident #99 (see /incident list all)")
        assert changes == []

    with_world(database_url, body)


def test_ack_resolve_note_change_incidents_publicly_and_stop_escalations(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        with world.rt.engine.connect() as conn:
            assert [e["state"] for e in escalations_of(conn, iid)] == ["active"]

        reply = await call(world, f"ack {iid}")
        assert reply == Reply(
            f"Incident #{iid} acknowledged by alice · HighErrorRate on api",
            "public", iid, True, True, "ack", reply.incident,
        )  # fmt: skip
        with world.rt.engine.connect() as conn:
            item = incidents.get_incident(conn, iid)
            (escalation,) = escalations_of(conn, iid)
        assert (item["status"], item["acknowledged_by"]) == ("acknowledged", "alice")
        assert (escalation["state"], escalation["reason"]) == ("stopped", "acknowledged by alice")

        again = await call(world, f"ack {iid}")
        assert (again.ok, again.visibility, again.changed) == (False, "ephemeral", False)
        assert again.text == f"incident #{iid} was already acknowledged by alice"

        noted = await call(world, f"note {iid} rolled back the deploy")
        assert noted.visibility == "public" and noted.action == "note"
        assert (
            noted.text
            == f"Incident #{iid} note by alice: rolled back the deploy · HighErrorRate on api"
        )

        resolved = await call(world, f"resolve {iid} fixed by rollback")
        assert resolved.text.startswith(f"Incident #{iid} resolved by alice: fixed by rollback")
        gone = await call(world, f"resolve {iid}")
        assert gone.text == f"incident #{iid} is already resolved"

        with world.rt.engine.connect() as conn:
            timeline = incidents.get_incident(conn, iid)["timeline"]
        kinds = [(e["kind"], e["actor"], e["message"]) for e in timeline]
        assert ("note", "alice", "rolled back the deploy") in kinds
        assert ("resolved", "alice", "resolved by alice: fixed by rollback") in kinds
        assert changes == [(iid, "ack"), (iid, "note"), (iid, "resolve")]

    with_world(database_url, body)


READS = ["list", "list all", "show {iid}", "oncall", "oncall primary", "silences", "help"]
WRITES = [
    "ack {iid}",
    "resolve {iid}",
    "note {iid} hello",
    "page alice db down",
    "silence service=api 1h",
    "unsilence abc",
    "run {iid} restart",
]


def test_unknown_users_may_read_but_not_change(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        for text in READS:
            reply = await call(world, text.format(iid=iid), STRANGER)
            assert reply.ok, (text, reply.text)
        for text in WRITES:
            reply = await call(world, text.format(iid=iid), STRANGER)
            verb = text.split()[0]
            assert reply == Reply(
                "you are not linked to a firebell user (slack id U0STRANGER), so you may only "
                f"read (list, show, oncall, silences, help), not {verb}. To change incidents, "
                "add `slack_id: U0STRANGER` to your entry under `users:` in the firebell config "
                "(or set slack.allow_unknown_users: true).",
                ok=False,
            )
        discord = await call(world, f"ack {iid}", Actor(None, "discord", "555", "eve"))
        assert (
            "add `discord_id: 555`" in discord.text
            and "discord.allow_unknown_users" in discord.text
        )
        # The CLI acts as a firebell user (--as, or the OS login's namesake), else reads.
        nobody = await call(world, f"note {iid} from the shell", Actor(None, "cli"))
        assert not nobody.ok and "pass --as NAME (known: alice, bob)" in nobody.text
        assert (await call(world, f"note {iid} from the shell", Actor("bob", "cli"))).ok
        with world.rt.engine.connect() as conn:
            assert incidents.get_incident(conn, iid)["status"] == "triggered"
        assert changes == [(iid, "note")]

    with_world(database_url, body)


def test_allow_unknown_users_lets_them_act_under_their_chat_name(database_url: str) -> None:
    slack = {"bot_token": "xoxb-1", "signing_secret": "s3cret", "allow_unknown_users": True}

    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        reply = await call(world, f"ack {iid}", STRANGER)
        assert reply.ok and reply.text.startswith(f"Incident #{iid} acknowledged by slack:mallory")
        # allow_unknown_users is per surface: Discord's is still off.
        assert not (await call(world, "note 1 x", Actor(None, "discord", "555"))).ok

    with_world(database_url, body, slack=slack)


def test_oncall(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        schedule = world.rt.settings.schedule("primary")
        now_on = oncall_at(schedule, NOW)[0]
        other = "bob" if now_on == "alice" else "alice"
        reply = await call(world, "oncall")
        # Weekly hand-off Monday 09:00 Madrid; shown in alice's zone.
        assert reply.text == f"primary: {now_on} until 2026-03-09 09:00 CET, then {other}"
        assert (await call(world, "oncall primary")).text == reply.text
        unknown = await call(world, "oncall nope")
        assert unknown.text == (
            "unknown schedule 'nope' (known: primary): /incident oncall backend-primary"
        )
        assert not unknown.ok

    with_world(database_url, body)


def test_silence_list_and_unsilence(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        reply = await call(world, 'silence service=api,alertname=~"High.*" 2h deploy')
        match = re.fullmatch(
            r'alice silenced service="api",alertname=~"High\.\*" for 2h '
            r"\(until 2026-03-02 13:00 CET, id ([0-9a-f-]{36})\): deploy",
            reply.text,
        )
        assert match, reply.text
        sid = match.group(1)
        assert (reply.visibility, reply.changed, reply.incident_id) == ("public", True, None)
        with world.rt.engine.connect() as conn:
            row = conn.execute(select(SILENCE).where(SILENCE.c.id == sid)).mappings().one()
        assert row["matchers"] == ['service="api"', 'alertname=~"High.*"']
        assert row["created_by"] == "alice" and row["comment"] == "deploy"

        listed = (await call(world, "silences")).text.splitlines()
        assert listed[0] == "Silences:"
        assert listed[1].startswith(f'{sid} [active] service="api",alertname=~"High.*" until')
        # Sunday's recurring window on a Monday: pending, with when it opens (alice's zone).
        assert listed[2].startswith(
            'config:0 (config) [pending] service="batch" every sunday all day (UTC), '
            "next window 2026-03-08 01:00 CET"
        )

        ended = await call(world, f"unsilence {sid}")
        assert ended.text == f'alice ended silence {sid} (service="api",alertname=~"High.*")'
        assert ended.visibility == "public"
        assert (await call(world, f"unsilence {sid}")).text == f"silence {sid} has already ended"
        assert (await call(world, "unsilence config:0")).text == (
            "silence config:0 comes from the config file; remove it there and reload"
        )
        assert (await call(world, "unsilence nope")).text == (
            "no silence 'nope': see /incident silences"
        )
        assert len((await call(world, "silences")).text.splitlines()) == 2  # config only now

        again = await call(world, "silence service=web 1h")
        other = re.search(r"id ([0-9a-f-]{36})", again.text)
        assert other, again.text
        # A start that fits several current silences (here: every one) names none of them.
        ambiguous = await execute(Unsilence(""), ALICE, command_context(world.rt, "slack"))
        assert (ambiguous.ok, ambiguous.text) == (
            False,
            "'' is the start of 2 silences: give more of the id (see /incident silences)",
        )
        by_prefix = await call(world, f"unsilence {other.group(1)[:8]}")  # as people type it
        assert by_prefix.text == f'alice ended silence {other.group(1)} (service="web")'

    with_world(database_url, body)


def test_silencing_an_incident_mutes_its_group_and_snoozes_paging(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        reply = await call(world, f"silence {iid} 1h")
        assert reply.incident_id == iid and reply.action == "silence"
        assert 'silenced alertname="HighErrorRate",service="api" for 1h' in reply.text
        with world.rt.engine.connect() as conn:
            (escalation,) = escalations_of(conn, iid)
            timeline = incidents.get_incident(conn, iid)["timeline"]
        # Not stopped: its next step waits for the silence (tests/test_paging_store.py).
        assert escalation["state"] == "active"
        assert any(e["kind"] == "silenced" and e["actor"] == "alice" for e in timeline)
        # A new alert of the same group is now muted (the paging engine reads the silence).
        with world.rt.engine.begin() as conn:
            incidents.resolve(conn, iid, "alice", NOW)
        (again,) = await world.submit(alert("HighErrorRate", "api", instance="node-2"))
        assert again is not None and again != iid
        with world.rt.engine.connect() as conn:
            kinds = [e["kind"] for e in incidents.get_incident(conn, again)["timeline"]]
            assert escalations_of(conn, again) == []
        assert "silenced" in kinds

    with_world(database_url, body)


def test_page_opens_an_incident_and_queues_pages_now(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        reply = await call(world, "page bob the database is down")
        iid = reply.incident_id
        assert iid is not None and reply.visibility == "public" and reply.changed
        assert reply.text == f"alice paged user:bob (bob): the database is down · incident #{iid}"
        with world.rt.engine.connect() as conn:
            item = incidents.get_incident(conn, iid)
            rows = notifications_of(conn, iid)
        (alert,) = item["alerts"]
        assert (alert["source"], alert["severity"], alert["title"]) == (
            "manual", "critical", "the database is down",
        )  # fmt: skip
        assert alert["labels"]["paged"] == "user:bob"
        manual = [r for r in rows if r["dedup_key"].startswith("manual:")]
        assert [(r["address"], r["recipient"], r["kind"], r["status"]) for r in manual] == [
            ("json://127.0.0.1:9/bob", "bob", "page", "pending")
        ]
        assert manual[0]["next_attempt_at"] == NOW
        assert any(e["kind"] == "paged" and e["actor"] == "alice" for e in item["timeline"])

        team = await call(world, "page ops disk full")
        with world.rt.engine.connect() as conn:
            rows = notifications_of(conn, team.incident_id or 0)
        assert ("slack:#ops", "channel") in {(r["address"], r["kind"]) for r in rows}

        unknown = await call(world, "page carol help")
        assert unknown.text == (
            "page: no user or team named 'carol' (users: alice, bob; teams: ops): "
            "/incident page alice the database is down"
        )
        bad_kind = await call(world, "page user:zed help")
        assert bad_kind.text.startswith("page: unknown user 'zed' (known: alice, bob)")

    with_world(database_url, body)


def test_a_page_while_the_intake_refuses_says_nobody_was_paged(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        async def full(submission: object) -> None:
            raise IntakeFull("request lane full")

        real = world.rt.intake.submit
        world.rt.intake.submit = full  # type: ignore[method-assign]
        reply = await call(world, "page bob the database is down")
        world.rt.intake.submit = real  # type: ignore[method-assign]
        assert not reply.ok and not reply.changed
        assert reply.text.startswith("page: the alert intake is full or the database is not")
        with world.rt.engine.connect() as conn:
            assert incidents.list_incidents(conn) == []

    with_world(database_url, body)


def test_run_names_missing_playbooks(database_url: str) -> None:
    async def body(world: ChatWorld, changes: list[tuple[int, str]]) -> None:
        iid = await world.incident()
        reply = await call(world, f"run {iid} restart-api")
        assert (reply.ok, reply.text) == (
            False, "no such playbook: restart-api (no playbooks are configured)",
        )  # fmt: skip
        from bot.commands import RunPlaybook

        button: Command = RunPlaybook(iid, "")
        pressed = await execute(button, ALICE, command_context(world.rt, "slack"))
        assert pressed.text == (
            f"no playbooks are configured, so there is nothing to run for incident #{iid}"
        )
        assert (await call(world, "run 99 x")).text == "no incident #99 (see /incident list all)"

    with_world(database_url, body)


def test_a_weekly_silence_not_open_yet_drops_no_pages_of_the_incident(database_url: str) -> None:
    two_steps = [{"notify": ["schedule:primary"], "wait": "10m"}] * 2
    config = settings_data(
        database_url,
        escalation_policies=[{"name": "default", "steps": two_steps}],
        route={"receiver": {"escalation": "default"}},
    )

    def statuses(world: ChatWorld, iid: int) -> set[str]:
        with world.rt.engine.connect() as conn:
            return {row["status"] for row in notifications_of(conn, iid)}

    async def go() -> None:
        def no_deliveries(app: Any, rt: Any) -> None:
            install_paging(rt, background=False)  # pages stay pending, unclaimed

        async with ChatWorld.open(config, install=no_deliveries) as world:
            iid = await world.incident()
            with world.rt.engine.begin() as conn:
                run_due_escalations(conn, world.rt.settings, NOW)  # step 1's pages
            assert statuses(world, iid) == {"pending"}
            # NOW is a Monday 10:00 UTC: Wednesday's window is not open.
            reply = await call(world, f"silence {iid} every:wed/02:00-04:00")
            assert "next window" in reply.text
            assert statuses(world, iid) == {"pending"}

            await call(world, f"silence {iid} 1h")  # in force now: the snooze drops them
            assert statuses(world, iid) == {"cancelled"}

    asyncio.run(go())
