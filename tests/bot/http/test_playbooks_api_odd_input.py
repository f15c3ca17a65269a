"""Odd input to the playbook and approval routes, on SQLite and PostgreSQL: a 4xx problem
naming the field, never a 500, and no run row written by a refused start."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.bot.http.test_playbooks_api import ALICE, STUCK, VIEWER, config, finished
from tests.playbooks.surface_support import API_5XX, far_sides, write_playbooks
from tests.support.chat_harness import ChatWorld

RUNS = "/api/v1/playbook-runs"
BIG = 2**31
HUGE = 2**70
MAX_OK = 2**31 - 1


def test_odd_input_is_refused_naming_the_field(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        with far_sides() as sides:
            folder = write_playbooks(tmp_path / "pb", API_5XX, STUCK)
            connections = sides.with_broken()
            async with ChatWorld.open(config(database_url, folder, connections)) as world:
                http = world.http
                incident_id = await world.incident()
                good: dict[str, Any] = {"incident_id": incident_id, "playbook": "api-5xx"}

                async def refused(
                    method: str, path: str, body: Any, field: str | None, status: int = 422
                ) -> None:
                    content = None if body is None else json.dumps(body).encode()
                    headers = {**ALICE, "Content-Type": "application/json"}
                    answer = await http.request(method, path, content=content, headers=headers)
                    assert answer.status_code == status, (path, body, answer.text)
                    assert answer.headers["content-type"] == "application/problem+json"
                    if field is not None:
                        assert answer.json()["field"] == field, (path, body, answer.text)

                starts: list[tuple[Any, str | None]] = [
                    ({**good, "incident_id": BIG}, "body.incident_id"),
                    ({**good, "incident_id": HUGE}, "body.incident_id"),
                    ({**good, "incident_id": -1}, "body.incident_id"),
                    ({**good, "incident_id": 1.5}, "body.incident_id"),
                    ({**good, "playbook": "api\x005xx"}, "body.playbook"),
                    ({**good, "playbook": "\ud800"}, "body.playbook"),
                    ({**good, "playbook": ["api-5xx"]}, "body.playbook"),
                    ({**good, "playbook": "x" * 101}, "body.playbook"),
                    ({**good, "params": ["window", "1h"]}, "body.params"),
                    ({**good, "params": "window=1h"}, "body.params"),
                    ({**good, "params": {"window": "1\x00h"}}, None),
                    ({**good, "params": {"window": "\udfff"}}, None),
                    ({**good, "params": {"win\x00dow": "1h"}}, None),
                    ({**good, "params": {"window": "1" * 100_000}}, None),
                    ({**good, "params": {f"p{i}": "x" for i in range(5000)}}, None),
                    ({**good, "params": {"window": {"a": 1}}}, None),
                    ({**good, "params": {"window": [1]}}, None),
                    ({**good, "params": {"window": None}}, None),
                    ({**good, "params": {"window": HUGE}}, None),
                    ({**good, "params": {"window": 1e308}}, None),
                    ({**good, "params": {"nope": "1"}}, "body.params.nope"),
                    ({**good, "surprise": 1}, "body.surprise"),
                    ({**good, "dry_run": "maybe"}, "body.dry_run"),
                    ([good], "body"),
                    ("text", "body"),
                ]
                for body, field in starts:
                    await refused("POST", RUNS, body, field)
                    if isinstance(body, dict) and "dry_run" not in body:
                        await refused("POST", RUNS, {**body, "dry_run": True}, field)
                await refused("POST", RUNS, {**good, "incident_id": MAX_OK}, None, 404)

                # Nothing was started by any of them.
                listed = await http.get(RUNS, headers=VIEWER)
                assert listed.status_code == 200 and listed.json()["items"] == []

                for bad in (str(BIG), str(HUGE), "-1", "0", "x", "1.5"):
                    for suffix, method in (
                        ("", "GET"),
                        ("/steps/a/output", "GET"),
                        ("/cancel", "POST"),
                        ("/approve", "POST"),
                        ("/reject", "POST"),
                        ("/request-again", "POST"),
                    ):
                        await refused(method, f"{RUNS}/{bad}{suffix}", None, "path.run_id")
                for query in (f"incident_id={BIG}", "incident_id=-1", "limit=0", "limit=99999"):
                    answer = await http.get(f"{RUNS}?{query}", headers=VIEWER)
                    assert answer.status_code == 422, answer.text
                    assert answer.json()["field"].startswith("query.")

                started = await http.post(RUNS, json={**good, "playbook": "stuck"}, headers=ALICE)
                assert started.status_code == 201, started.text
                run_id = started.json()["id"]
                run = f"{RUNS}/{run_id}"
                await refused("GET", f"{run}/steps/nope/output", None, "path.step_id", 404)
                await refused("GET", f"{run}/steps/a%00b/output", None, "path.step_id")
                await refused("GET", f"{run}/steps/{'s' * 65}/output", None, "path.step_id")
                await refused("GET", "/api/v1/playbooks/a%00b", None, "path.playbook_id")
                for decision in ("approve", "reject"):
                    path = f"{run}/{decision}"
                    await refused("POST", path, {"step": "a\x00"}, "body.step")
                    await refused("POST", path, {"step": "\ud800"}, "body.step")
                    await refused("POST", path, {"comment": "\x00"}, "body.comment")
                    await refused("POST", path, {"comment": "c" * 1001}, "body.comment")
                    await refused("POST", path, {"step": 3}, "body.step")
                    await refused("POST", path, {"step": ""}, "body.step")
                    await refused("POST", path, {"other": 1}, "body.other")
                    await refused("POST", path, ["approve"], "body")
                    await refused("POST", path, {"actor": "mallory"}, "body.actor")
                    await refused("POST", path, {"step": "nope"}, "body.step", 404)
                    await refused("POST", path, {}, None, 409)  # nothing awaits approval
                await refused("POST", f"{run}/request-again", None, None, 409)
                cancelled = await http.post(f"{run}/cancel", headers=ALICE)
                assert cancelled.status_code == 200, cancelled.text
                assert (await finished(http, run_id))["status"] != "running"
                for decision in ("approve", "reject", "request-again"):
                    await refused("POST", f"{run}/{decision}", None, None, 409)

    asyncio.run(go())
