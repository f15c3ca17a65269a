"""What each `firebell playbook` action does (bot.cli.playbook builds the parser)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import Any

from bot.cli.chat_commands import cli_user
from bot.cli.output import print_json
from bot.cli.playbook_text import (
    dry_run_lines,
    output_lines,
    playbook_lines,
    playbook_list_lines,
    playbooks_table,
    run_detail_lines,
    run_line,
    runs_table,
)
from bot.cli.settings import UsageError, load_settings
from bot.config import Settings
from bot.runtime.state import Runtime
from playbooks.approvals_service import decision_text
from playbooks.service import PlaybookRefused, PlaybookService, detail, plain, summarize
from routing.oncall.people import role_allows

WAIT_POLL_SECONDS = 0.2


def _runtime(args: argparse.Namespace) -> tuple[Settings, Runtime, PlaybookService]:
    from bot.roles import command_runtime

    settings = load_settings(args.config)
    rt = command_runtime(settings)
    service: PlaybookService | None = rt.extras.get("playbook_service")
    if service is None:
        raise UsageError("playbooks are not available (this firebell has no playbook service)")
    return settings, rt, service


def _cli_person(args: argparse.Namespace, settings: Settings) -> str | None:
    """The --as user (refused when unknown), else the OS login's firebell user, else None."""
    if args.as_user is not None and args.as_user not in settings.users_by_name:
        known = ", ".join(sorted(settings.users_by_name)) or "none defined"
        raise UsageError(f"--as: unknown user {args.as_user!r} (known: {known})")
    return cli_user(args.as_user, settings.users_by_name)


def _actor(args: argparse.Namespace, settings: Settings, what: str) -> str:
    """The firebell user a write runs as; UsageError naming what would let it run."""
    user = _cli_person(args, settings)
    if user is None:
        known = ", ".join(sorted(settings.users_by_name)) or "none defined under users:"
        raise UsageError(f"{what} runs as a firebell user: pass --as NAME (known: {known})")
    role = settings.users_by_name[user].role
    if not role_allows(role, "responder"):
        raise UsageError(
            f"{what} needs the responder role; {user} is a {role} "
            f"(set `role: responder` on {user} under users:)"
        )
    return user


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        params[name.strip()] = value
    return params


def _refused(exc: PlaybookRefused, as_json: bool) -> int:
    if as_json:
        print_json({"error": exc.message, "field": exc.field}, sys.stderr)
    else:
        print(f"firebell: {exc.message}", file=sys.stderr)
    return 1


def _show(as_json: bool, data: Any, lines: list[str]) -> int:
    if as_json:
        print_json(plain(data))
    else:
        print("\n".join(lines))
    return 0


def _print_table(kind: Callable[[Any], Any], data: Mapping[str, Any]) -> bool:
    from rich.console import Console

    console = Console()
    if not data["items"] or not console.is_terminal:
        return False
    console.print(kind(data))
    return True


def cmd_list(args: argparse.Namespace) -> int:
    _settings, _rt, service = _runtime(args)
    data = {"items": [summarize(p) for p in service.playbooks()]}
    if not args.json and _print_table(playbooks_table, data):
        return 0
    return _show(args.json, data, playbook_list_lines(data["items"]))


def cmd_show(args: argparse.Namespace) -> int:
    _settings, _rt, service = _runtime(args)
    try:
        playbook = service.playbook(args.name)
    except PlaybookRefused as exc:
        return _refused(exc, args.json)
    data = detail(playbook)
    return _show(args.json, data, playbook_lines(data))


def cmd_run(args: argparse.Namespace) -> int:
    if args.with_reads and not args.dry_run:
        raise UsageError("--with-reads is for dry-runs: add --dry-run")
    if args.wait and args.dry_run:
        raise UsageError("--wait is for runs; a dry-run answers at once")
    params = _params(args.param)
    settings, rt, service = _runtime(args)
    actor = _actor(args, settings, "playbook run")

    async def go() -> int:
        async with rt.lifecycle.running():
            try:
                if args.dry_run:
                    result = await service.dry_run(
                        args.incident, args.name, params, actor, args.with_reads
                    )
                    return _show(args.json, result, dry_run_lines(result))
                run = await asyncio.to_thread(
                    service.start, args.incident, args.name, params, actor
                )
                if args.wait:
                    run = await _execute_here(rt, service, int(run["id"]))
                    return _show(args.json, run, run_detail_lines(run))
            except PlaybookRefused as exc:
                return _refused(exc, args.json)
            lines = [
                run_line(run),
                "A running `firebell serve` or `firebell worker` executes it (or start it with "
                f"--wait); follow it with `firebell playbook logs {run['id']}`.",
            ]
            return _show(args.json, run, lines)

    return asyncio.run(go())


async def _execute_here(rt: Runtime, service: PlaybookService, run_id: int) -> dict[str, Any]:
    """Advance due runs in this process, as the worker does, until `run_id` finishes.
    Leases keep a running server from taking the same step at the same time (and a due
    run of another incident may be advanced here too: it is due either way)."""
    worker = rt.extras["playbooks"]  # bot.workers.playbook_worker.install_playbooks
    while True:
        await worker.runner.run_due(worker.id)
        run = await asyncio.to_thread(service.run, run_id)
        if run["status"] != "running":
            return run
        await asyncio.sleep(WAIT_POLL_SECONDS)


def cmd_runs(args: argparse.Namespace) -> int:
    _settings, _rt, service = _runtime(args)
    data = {"items": plain(service.runs(args.incident))}
    if not args.json and _print_table(runs_table, data):
        return 0
    lines = [run_line(run) for run in data["items"]] or ["No playbook runs."]
    return _show(args.json, data, lines)


def cmd_logs(args: argparse.Namespace) -> int:
    _settings, _rt, service = _runtime(args)
    try:
        outputs = service.outputs(args.run, args.step)
    except PlaybookRefused as exc:
        return _refused(exc, args.json)
    return _show(args.json, {"items": outputs}, output_lines(outputs))


def cmd_cancel(args: argparse.Namespace) -> int:
    settings, _rt, service = _runtime(args)
    actor = _actor(args, settings, "playbook cancel")
    try:
        run = service.cancel(args.run, actor)
    except PlaybookRefused as exc:
        return _refused(exc, args.json)
    return _show(args.json, run, [*run_detail_lines(run), f"cancel requested by {actor}"])


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approved")


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, "rejected")


def _decide(args: argparse.Namespace, decision: str) -> int:
    """As the --as (or OS login) user; whether they may decide is the approval's rule,
    checked by the service as for every surface."""
    settings, _rt, service = _runtime(args)
    actor = _cli_person(args, settings)
    try:
        result = service.decide(
            args.run, decision, actor, settings, step_id=args.step, comment=args.comment,
            surface="cli",
        )  # fmt: skip
    except PlaybookRefused as exc:
        return _refused(exc, args.json)
    return _show(args.json, result, [decision_text(result)])


def cmd_request_again(args: argparse.Namespace) -> int:
    """A new run of a run whose approval expired, started by the --as user."""
    settings, _rt, service = _runtime(args)
    actor = _actor(args, settings, "playbook request-again")
    try:
        run, new = service.request_again(args.run, actor)
    except PlaybookRefused as exc:
        return _refused(exc, args.json)
    asked = f"asked again by {actor}" if new else f"asked again already by {run['started_by']}"
    return _show(args.json, run, [run_line(run), f"run {args.run} {asked}"])
