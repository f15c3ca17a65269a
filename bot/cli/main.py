"""The `firebell` entry point: the parser, and serve, worker, db upgrade, check-config,
simulate and oncall (incident and the chat processes are in chat_commands)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.chat_commands import add_chat_cli
from bot.cli.playbook import add_playbook_cli
from bot.cli.report import add_report_cli
from bot.cli.settings import CONFIG_HELP, UsageError, instant_arg, load_settings, read_input
from bot.config import (
    ConfigError,
    ConfigUnreadable,
    Settings,
    check_config_file,
    resolve_config_path,
)
from bot.runtime.state import CannotStart


def check_schema(database_url: str) -> None:
    """PostgreSQL is migrated by `firebell db upgrade` (one step per release, not per
    replica): refuse to serve an out-of-date schema. An unreachable database is not a
    start-up error: the server answers 503 until it is back."""
    from routing.storage.database import is_sqlite, is_unavailable
    from routing.storage.migrate import current_revision, head_revision

    if is_sqlite(database_url):
        return  # serve migrates SQLite itself
    try:
        current = current_revision(database_url)
    except Exception as exc:
        if is_unavailable(exc):
            return
        raise
    head = head_revision()
    if current != head:
        raise CannotStart(
            f"database schema is at revision {current or 'none'}, this firebell needs {head}: "
            "run `firebell db upgrade` first"
        )


def process_settings(args: argparse.Namespace) -> Settings:
    """The config of a long-running process, with its logging set up and its schema
    checked (CannotStart when out of date)."""
    from bot.runtime.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging(args.log_level.upper(), settings.secret_values())
    check_schema(settings.database_url)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.cli.serve_app import run_app
    from bot.roles import create_app
    from bot.runtime.worker_lock import WorkerLock

    settings = process_settings(args)
    workers = not args.no_workers
    with WorkerLock(settings.database_url, runs_workers=workers):
        app = create_app(settings, host=args.host, workers=workers)
        run_app(app, args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    from bot.roles import run_worker
    from bot.runtime.worker_lock import WorkerLock

    settings = process_settings(args)
    with WorkerLock(settings.database_url):
        return asyncio.run(run_worker(settings))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from routing.storage.migrate import current_revision, upgrade

    settings = load_settings(args.config)
    upgrade(settings.database_url)
    print(f"database at revision {current_revision(settings.database_url)}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else resolve_config_path(None, os.environ, Path.cwd())
    ok, report = check_config_file(path, os.environ)
    print(report)
    return 0 if ok else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    from bot.cli.simulate import run_simulation
    from bot.cli.simulate_render import render_json, render_text

    body = sys.stdin.buffer.read() if args.file == "-" else read_input(args.file)
    settings = load_settings(args.config)
    headers = {}
    for item in args.header or []:
        name, sep, value = item.partition(":")
        if not sep:
            print(f"firebell: --header {item!r}: expected NAME:VALUE", file=sys.stderr)
            return 2
        headers[name.strip().lower()] = value.strip()
    at = args.at or datetime.now(UTC)
    sim = run_simulation(
        settings, args.source, body, headers, at, dry_run_playbooks=args.dry_run_playbooks
    )
    print(render_json(sim) if args.json else render_text(sim))
    return 1 if sim.error else 0


def cmd_oncall(args: argparse.Namespace) -> int:
    from bot.cli.output import print_json, print_table
    from routing.oncall.report import format_oncall, oncall_report

    settings = load_settings(args.config)
    at = args.at or datetime.now(UTC)
    if args.schedule:
        try:
            chosen = [settings.schedule(args.schedule)]
        except KeyError as exc:
            print(f"firebell: {exc.args[0]}", file=sys.stderr)
            return 2
    else:
        chosen = list(settings.schedules)
    report = oncall_report(chosen, at, args.next)
    if args.json:
        print_json({"items": report})
    elif not print_table("oncall", {"items": report}):
        print(format_oncall(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firebell",
        description="Self-hosted incident response and alert routing: receives alerts "
        "(Alertmanager, Sentry, Nginx), deduplicates and groups them into incidents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server (webhooks, REST API, metrics)")
    serve.description = "Run the firebell server. On SQLite, pending migrations are applied first."
    serve.add_argument("--config", help=CONFIG_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="HTTP and intake only: paging, follow-ups, reminders, the Nginx sweeper and "
        "playbook runs run in `firebell worker` processes",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run paging, follow-ups, reminders, the Nginx sweeper and playbook runs, without HTTP",
    )
    worker.description = (
        "Run the background workers without HTTP, beside `firebell serve --no-workers`. "
        "PostgreSQL takes any number of workers; SQLite one (a second is refused)."
    )
    worker.add_argument("--config", help=CONFIG_HELP)
    worker.add_argument("--log-level", default="info", help="debug, info, warning, error")
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database maintenance")
    db.description = "Database maintenance commands."
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    db_upgrade.description = "Apply pending Alembic migrations to the configured database."
    db_upgrade.add_argument("--config", help=CONFIG_HELP)
    db_upgrade.set_defaults(func=cmd_db_upgrade)

    check = sub.add_parser("check-config", help="validate a config file and print errors")
    check.description = "Validate a config file; errors are printed with their path in the file."
    check.add_argument("file", nargs="?", help=CONFIG_HELP)
    check.set_defaults(func=cmd_check_config)

    sim = sub.add_parser("simulate", help="show what a payload would do, without writing anything")
    sim.description = (
        "Parse a payload and print, at an instant T: the alerts, fingerprints, dedup "
        "decisions against the current database and the incident each would join; the "
        "routes taken, the silence or inhibition that would mute each alert; and who would "
        "be paged at each escalation step, with times. Nothing is written."
    )
    sim.add_argument(
        "--source", required=True, help="alertmanager, sentry, sentry-legacy, nginx, generic"
    )
    sim.add_argument("file", help="payload file, or - for standard input")
    sim.add_argument(
        "--header",
        action="append",
        help="request header NAME:VALUE (repeatable), e.g. Sentry-Hook-Resource:issue",
    )
    sim.add_argument(
        "--at",
        type=instant_arg,
        help="the instant T to simulate (ISO 8601, default now): dedup, silences, routes, "
        "on-call and every escalation step are computed at or from T",
    )
    sim.add_argument(
        "--dry-run-playbooks",
        action="store_true",
        help="for each playbook matching the incident, show every request it would send "
        "(nothing is sent)",
    )
    sim.add_argument(
        "--json", action="store_true", help="print the same information as JSON (for tools)"
    )
    sim.add_argument("--config", help=CONFIG_HELP)
    sim.set_defaults(func=cmd_simulate)

    oncall = sub.add_parser("oncall", help="who is on call now (or at --at) and the next hand-offs")
    oncall.description = "Show who is on call per schedule and the next hand-offs."
    oncall.add_argument("--schedule", help="one schedule (default: all)")
    oncall.add_argument(
        "--at", type=instant_arg, help="the instant (ISO 8601; no zone means UTC; default now)"
    )
    oncall.add_argument("--next", type=int, default=3, help="hand-offs to list (default 3)")
    oncall.add_argument(
        "--json", action="store_true", help="print GET /api/v1/oncall's answer (for scripts)"
    )
    oncall.add_argument("--config", help=CONFIG_HELP)
    oncall.set_defaults(func=cmd_oncall)

    add_chat_cli(sub)
    add_playbook_cli(sub)
    add_report_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigUnreadable as exc:
        print(f"firebell: config {exc.path}: {exc.reason.lower()}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"firebell: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    except (UsageError, CannotStart) as exc:
        print(f"firebell: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
