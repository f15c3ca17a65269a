"""`/incident run` with odd values, on SQLite and PostgreSQL: an ephemeral answer saying
what is wrong (never a failure), and no run row written."""

from __future__ import annotations

from pathlib import Path

from playbooks import run_store
from tests.bot.chat.playbook_world import FakeApis
from tests.bot.chat.test_playbook_slack import in_world, send, slash
from tests.support.chat_harness import ChatWorld


def test_odd_run_values_are_answered_and_start_nothing(database_url: str, tmp_path: Path) -> None:
    async def body(world: ChatWorld, apis: FakeApis) -> None:
        iid = await world.incident()
        for text, expected in (
            ("run 2147483648 api-5xx", "incident 2147483648 not found"),
            ("run 999999999999999999 api-5xx", "not found"),
            ("run -1 api-5xx", "is not an incident id"),
            (f"run {iid} api-5xx window=99999999999999999999999w", "parameter window"),
            (f"run {iid} api-5xx window={'9' * 5000}", "parameter window"),
            (f"run {iid} api-5xx window=1h window=2h", "given twice"),
            (f"run {iid} api-5xx nope=1", "nope"),
            (f"run {iid} {'x' * 500}", "unknown playbook"),
            (f"run {iid} api-5xx window=1\x00h", "NUL character"),
            (f'run {iid} api-5xx window="1h', "double quotes"),
        ):
            await send(world, slash(apis, text))
            answer = apis.responses()[-1]
            assert answer["response_type"] == "ephemeral", (text, answer)
            assert expected in answer["text"], (text, answer)
        with world.rt.engine.connect() as conn:
            assert run_store.list_runs(conn, iid) == []

    in_world(database_url, tmp_path, body)
