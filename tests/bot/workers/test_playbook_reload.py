"""The playbook worker reloads the catalog when a playbook file changes (SQLite and
PostgreSQL): the runner, the service and on_open use the new one; a file that does not
load leaves the old catalog running."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.workers.playbook_worker import PlaybookWorker
from playbooks.service import PlaybookService
from tests.bot.workers.test_playbook_worker import served, settings
from tests.playbooks.run_support import Loki, write_playbook
from tests.support.loopback_http import start

ADDED = """\
id: added
steps:
  - {id: a, uses: logs.loki, with: {connection: loki, selector: {step: added}}}
"""


def test_a_changed_folder_is_reloaded_and_a_broken_file_keeps_the_old_catalog(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "playbooks"
    with start(Loki()) as loki:
        config = settings(database_url, folder, loki)

        async def go() -> None:
            async with served(config) as rt:
                worker: PlaybookWorker = rt.extras["playbooks"]
                service: PlaybookService = rt.extras["playbook_service"]
                assert worker.reload_catalog() is False  # nothing changed
                write_playbook(folder, ADDED)
                assert worker.reload_catalog() is True
                for catalog in (worker.catalog, worker.runner.catalog, service.catalog):
                    assert sorted(catalog.playbooks) == ["added", "by-hand", "first-look"]
                assert rt.extras["playbook_catalog"] is worker.catalog
                assert [p.id for p in worker.on_open] == ["first-look"]
                (folder / "added.yaml").write_text(ADDED.replace("logs.loki", "logs.nope"))
                assert worker.reload_catalog() is False
                assert "added" in worker.runner.catalog.playbooks  # the old one runs on
                assert worker.runner.catalog.playbooks["by-hand"].spec.steps[0].id == "a"

        asyncio.run(go())
